"""Chunk metadata in a media container's ``comment`` tag.

Every container ``time-chunk`` writes has a global comment (MP4/MOV ``©cmt``, Matroska
and WebM ``COMMENT``, ID3, Vorbis comments, WAV ``ICMT``) except ADTS. The tag has two
virtues: the chunk stays a plain playable file, and ffmpeg copies global metadata to
its output by default, so an app that re-encodes its chunk hands the metadata on to
the concat assembler without knowing it is there.

``chunks.read_slot`` calls :func:`read_media_meta` for chunks that start like a media
container; it reads headers only (PyAV opens the file, it demuxes nothing). The media
join reads the same tags from the open it probes with (:func:`meta_from_tags`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..chunks import META_KEY, META_TEXT_PREFIX, ChunkMeta
from ..errors import DataError

__all__ = ["clearing_slot", "encode_comment", "meta_from_tags", "read_media_meta", "without_slot"]


def encode_comment(meta: ChunkMeta) -> str:
    """The comment value carrying ``meta``."""
    return META_TEXT_PREFIX + meta.to_json().decode()


def read_media_meta(path: Path) -> ChunkMeta | None:
    """The chunk metadata in a media file's comment tag, or None (also for a damaged file:
    the app that reads it will meet the damage)."""
    from .probe import container_tags, open_media

    try:
        with open_media(path) as container:
            tags = container_tags(container)
    except (DataError, OSError):
        return None
    return meta_from_tags(tags, path)


def meta_from_tags(tags: Mapping[str, str], path: Path) -> ChunkMeta | None:
    """The chunk metadata in ``tags`` (a file's tags, as :func:`.probe.container_tags`
    reads them), or None when its comment carries none."""
    raw = next((v for k, v in tags.items() if k.lower() == "comment"), None)
    if not isinstance(raw, str) or not raw.startswith(META_TEXT_PREFIX):
        return None
    try:
        return ChunkMeta.from_json(raw[len(META_TEXT_PREFIX) :].encode())
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path.name}: metadata under {META_KEY!r} is not valid ({exc})") from None


def _is_slot(key: str, value: str) -> bool:
    return key.lower() == "comment" and value.startswith(META_TEXT_PREFIX)


def without_slot(tags: Mapping[str, str]) -> dict[str, str]:
    """``tags`` without a chunk's metadata: a join's output is no chunk, and the tag would
    give it chunk 0's index, count and times."""
    return {k: v for k, v in tags.items() if not _is_slot(k, v)}


def clearing_slot(tags: Mapping[str, str]) -> list[str]:
    """ffmpeg options that leave out of its output the metadata slot of its first input,
    whose tags (as :func:`.probe.container_tags` reads them) are ``tags``; ffmpeg copies
    that input's global and stream tags by default. An app's own comment is kept."""
    if not any(_is_slot(k, v) for k, v in tags.items()):
        return []
    return ["-metadata", "comment=", "-metadata:s", "comment="]
