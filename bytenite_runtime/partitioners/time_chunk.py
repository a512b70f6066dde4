"""The ``time-chunk`` partitioner: video and audio cut along time into playable chunks.

Each source file is probed (packets, no decoding), the cuts are planned (so every chunk
knows its index, the count, its start, duration, frame and sample counts before a byte
is written), then chunks are written in order (a large MP4/MOV's two halves at once, see
:func:`..media.cut.write_copy`) into a scratch folder in the system's temporary folder,
handed to the runtime (which stages them into ``CHUNKS_DIR``) and deleted; the folder is
removed whatever happens.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

from .._chunk_writer import NewChunk
from ..chunks import ChunkMeta
from ..components import Partitioner
from ..errors import DataError
from ..media import MUXERS
from ..task import PartitionerContext

if TYPE_CHECKING:
    from ..media.cut import Pcm
    from ..media.plan import Piece
    from ..media.probe import MediaInfo

__all__ = ["TimeChunk", "chunk_container"]

_DEFAULT_SECONDS = 10.0
# Chunk container by source extension. MPEG-TS chunks become Matroska: TS has no
# metadata slot and its muxer shifts every file by 1.4 s, which a join would carry over.
_COPY_FORMATS = {ext: "matroska" if muxer == "mpegts" else muxer for ext, muxer in MUXERS.items()}
_NO_SLOT = {"adts"}
_MAX_CHUNKS = 100_000


def chunk_container(source: Path, mode: str, has_video: bool, audio: str = "copy") -> str:
    """The container chunks of ``source`` are written in (an ffmpeg muxer name)."""
    ext = source.suffix.lower().lstrip(".")
    if not has_video and (mode == "exact" or audio == "pcm"):
        return "wav"
    mov_family = ext in {"mp4", "m4v", "mov"}
    if audio == "pcm":
        # MP4 has no plain PCM that players agree on; MOV and Matroska do.
        return "mov" if mov_family else "matroska"
    if mode == "exact":
        return "mp4" if mov_family else "matroska"
    return _COPY_FORMATS.get(ext, "matroska")


class TimeChunk(Partitioner):
    """Video (mp4, mov, mkv, webm, ts) and audio-only files (wav, flac, mp3, aac, m4a,
    opus) cut along time into playable chunks, on keyframes ('copy') or on exact frames
    ('exact'); the bytenite-runtime README's "time-chunk in detail" has the rest."""

    name: ClassVar[str] = "time-chunk"
    summary: ClassVar[str] = "Video and audio cut along time into playable chunks."

    segment_seconds: float | None = Field(
        None, gt=0, description="Target chunk length in seconds (default 10 when no sizing)."
    )
    num_chunks: int | None = Field(
        None, gt=0, le=_MAX_CHUNKS, description="How many chunks per file, of equal length."
    )
    mode: Literal["copy", "exact"] = Field(
        "copy",
        description="'copy': stream copy, cuts on the keyframe nearest each requested time; "
        "'exact': video re-encoded so cuts land on the frame nearest each requested time "
        "(audio-only: sample-exact PCM WAV chunks).",
    )
    audio: Literal["copy", "pcm", "drop"] = Field(
        "copy",
        description="'copy': audio packets carried untouched, each whole in the chunk where "
        "it starts (a join gives the source's track back, packet for packet); 'pcm': the "
        "track decoded once and cut to the sample at each video cut, as PCM in the chunk "
        "(for apps that process audio; the join encodes it once); 'drop': video-only chunks.",
    )
    video_codec: Literal["h264", "hevc"] = Field(
        "h264", description="'exact' mode: the codec chunks are re-encoded to."
    )
    crf: int = Field(
        18, ge=0, le=51, description="'exact' mode: quality (x264/x265 CRF, NVENC CQ)."
    )
    gpu: Literal["auto", "off"] = Field(
        "auto",
        description="'exact' mode: 'auto' uses NVENC/NVDEC when a GPU and the encoder work "
        "here, else the CPU; 'off': always the CPU.",
    )

    @model_validator(mode="after")
    def _one_sizing(self) -> TimeChunk:
        if self.segment_seconds is not None and self.num_chunks is not None:
            raise ValueError("give at most one of segment_seconds, num_chunks")
        return self

    def partition(self, ctx: PartitionerContext[Any]) -> Iterator[NewChunk]:
        from ..media import plan, probe

        if not ctx.sources:
            raise DataError("SOURCE_DIR: no media file to cut")
        seconds = self.segment_seconds
        if seconds is None and self.num_chunks is None:
            seconds = _DEFAULT_SECONDS
        planned = []
        for path in ctx.sources:
            seen = probe.stamp(path)
            info = probe.probe(path)
            if info.video is None and self.audio == "drop":
                raise DataError(f"{path.name}: no video stream (and audio='drop')")
            if info.left_out:
                ctx.log.warning(
                    "%s: chunks carry the first video and audio stream only; left out: %s",
                    path.name, ", ".join(info.left_out),
                )  # fmt: skip
            # Video files are cut along the video's own span, audio-only ones along theirs.
            track = info.video or info.audio
            assert track is not None  # probe() guarantees one of them
            length = track.end - track.start
            if self.segment_seconds is not None and self.segment_seconds >= length:
                ctx.log.warning(
                    "%s: segment_seconds=%g is not shorter than the file (%.3f s): one chunk",
                    path.name, self.segment_seconds, length,
                )  # fmt: skip
            # The cuts are listed before they are snapped: a segment of 1e-9 s would list
            # billions of them (and be killed for memory) before any check could run.
            if seconds is not None and length / seconds > _MAX_CHUNKS:
                raise DataError(
                    f"{path.name}: segment_seconds={seconds:g} would cut its {length:.3f} s into "
                    f"more than {_MAX_CHUNKS} chunks"
                )
            cuts = plan.requested_cuts(length, seconds, self.num_chunks)
            planned.append((path, info, cuts, seen))
        scratch = Path(tempfile.mkdtemp(prefix="bytenite-time-chunk-"))
        try:
            index = 0
            for path, info, cuts, seen in planned:
                try:
                    for chunk in self._cut(ctx, path, info, cuts, scratch, index):
                        yield chunk
                        index += 1
                except DataError as exc:
                    # A file cut as it is written or replaced fails in ways that blame it
                    # for what it no longer is: say that it changed.
                    if why := probe.changed(path, seen):
                        raise DataError(
                            f"{path.name}: changed while being cut ({why}): {exc}"
                        ) from None
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _cut(
        self, ctx: PartitionerContext[Any], path: Path, info: MediaInfo, cuts: list[float],
        scratch: Path, first_index: int,
    ) -> Iterator[NewChunk]:  # fmt: skip
        from ..media import cut, gpu, plan, probe
        from ..media.slots import encode_comment

        if self.audio == "drop":
            info = dataclasses.replace(info, audio=None)
        if self.mode == "exact" and info.video is not None:
            # Re-encoded chunks hold the frames a decoder gives out, hidden ones left out.
            shown = info.video.shown()
            if not shown.frames:
                raise DataError(f"{path.name}: the container hides every video frame")
            info = dataclasses.replace(info, video=shown)
        fmt = chunk_container(path, self.mode, info.video is not None, self.audio)
        name = path.relative_to(ctx.source_dir).as_posix()
        raw, width = None, 0
        bounds: Sequence[int] | Sequence[float]
        if info.video is not None:
            bounds, pieces = plan.plan_video(info, cuts, self.mode)
        elif self.mode == "exact" or self.audio == "pcm":
            assert info.audio is not None
            first = probe.first_sample_time(info.path, info.audio.index)
            raw, width, total = _decode_pcm(info, scratch, first)
            bounds, pieces = plan.plan_audio(info, cuts, "exact", total)
        else:
            bounds, pieces = plan.plan_audio(info, cuts, self.mode, fmt=fmt)
        pcm = None
        if self.audio == "pcm" and info.video is not None and info.audio is not None:
            pcm, pieces = _pcm_pieces(info, [int(b) for b in bounds], pieces, scratch)
        video = info.video
        if self.mode == "copy" and video is not None and video.open_key_pts:
            ctx.log.warning(
                "%s: %d of %d keyframes open a GOP (frames after them are shown before them): "
                "copy mode does not cut there; mode='exact' cuts at any frame",
                name, len(video.open_key_pts), len(video.key_pts),
            )  # fmt: skip
        if len(pieces) < len(cuts) + 1:
            ctx.log.info(
                "%s: %d chunk(s) instead of %d: %s", name, len(pieces), len(cuts) + 1,
                _why_fewer(self.mode, video is not None, raw is not None),
            )  # fmt: skip
        # ChunkMeta.count is per job, but chunks of later files are not planned yet: the
        # count is left out when there are several files.
        count = len(pieces) if len(ctx.sources) == 1 else None
        metas = [
            ChunkMeta(first_index + p.index, count, name, p.fields(self.mode, fmt)) for p in pieces
        ]
        # 'footer' appends the metadata instead (the runtime does it); 'auto' uses the tag.
        embed = self.chunk_metadata == "auto" and fmt not in _NO_SLOT
        comments = [encode_comment(m) if embed else None for m in metas]
        if raw is not None and info.video is None:
            files = cut.write_exact_audio(info, raw, width, pieces, scratch, comments)
        elif self.mode == "copy":
            files = cut.write_copy(info, bounds, scratch, fmt, comments, pcm)
        elif info.video is not None:
            encoder = gpu.pick_encoder(
                self.video_codec, crf=self.crf, gpu=self.gpu,
                source_format=info.video.pixel_format, width=info.video.width,
                height=info.video.height,
            )  # fmt: skip
            if encoder.narrowed:
                ctx.log.warning("%s: %s: %s", name, encoder.name, encoder.narrowed)
            ctx.log.info("%s: re-encoding with %s (%s)", name, encoder.name, encoder.pixel_format)
            video_bounds = [int(b) for b in bounds]
            files = cut.write_exact_video(
                info, video_bounds, pieces, scratch, fmt, comments, encoder, pcm
            )
        for meta, file in zip(metas, files, strict=True):
            yield NewChunk(path=file, source=name, fields=meta.fields, embedded=embed)
            file.unlink(missing_ok=True)
        ctx.log.info("%s: %d chunk(s), %s mode, %s", name, len(pieces), self.mode, fmt)


def _why_fewer(mode: str, has_video: bool, sample_exact: bool) -> str:
    """Why a file gave fewer chunks than asked, for the log."""
    if has_video:
        return "keyframes too sparse" if mode == "copy" else "cuts closer than a frame"
    if sample_exact:
        return "cuts closer than a sample, or past the last one decoded"
    # Audio copies put each packet whole in one chunk, and every chunk holds a few.
    return "too few audio packets for that many chunks"


def _decode_pcm(info: MediaInfo, scratch: Path, first: Fraction) -> tuple[Path, int, int]:
    """The whole audio stream decoded once to raw interleaved samples: s16 for 16-bit
    PCM sources (kept bit-exact), f32 for everything else (exact for up to 24 bits), the
    first at source time ``first``. Returns the file, bytes per sample and the number of
    samples (per channel) up to the end of the last packet: samples past it in the file
    are the encoder's padding."""
    from ..media import run_ffmpeg

    audio = info.audio
    assert audio is not None
    raw = scratch / "audio.raw"
    s16 = audio.codec in {"pcm_s16le", "pcm_s16be"}
    sample_fmt, width = ("s16le", 2) if s16 else ("f32le", 4)
    run_ffmpeg(
        ["-i", str(info.path), "-map", f"0:{audio.index}", "-f", sample_fmt,
         "-c:a", f"pcm_{sample_fmt}", str(raw)],
        what=f"{info.path.name}: decoding audio",
    )  # fmt: skip
    decoded = raw.stat().st_size // (width * audio.channels)
    # An MP4's last AAC packet lasts only the samples it has left (512 of 1024): ffmpeg 9
    # drops the rest, the encoder's padding, but ffmpeg 5.1 (Debian bookworm) decodes it.
    # That end is exact only in a time base of whole samples (not Matroska's milliseconds).
    last_pts, last_duration = max(audio.packets)
    if not last_duration or (Fraction(1, audio.sample_rate) / audio.time_base).denominator != 1:
        return raw, width, decoded
    end = (last_pts + last_duration) * audio.time_base
    kept = round((end - first) * audio.sample_rate)
    return raw, width, min(decoded, kept)


def _pcm_pieces(
    info: MediaInfo, bounds: list[int], pieces: list[Piece], scratch: Path
) -> tuple[Pcm, list[Piece]]:
    """The decoded track and each piece's run of samples: from its first video frame's
    time to the next piece's, so runs meet exactly and the total is the track's."""
    from ..media.cut import Pcm
    from ..media.probe import first_sample_time

    video, audio = info.video, info.audio
    assert video is not None and audio is not None
    first = first_sample_time(info.path, audio.index)
    raw, width, total = _decode_pcm(info, scratch, first)
    edges = [0]
    for bound in bounds[1:]:
        at = round((Fraction(bound) * video.time_base - first) * audio.sample_rate)
        edges.append(min(max(at, edges[-1]), total))
    edges.append(total)
    pcm = Pcm(raw, width, audio.channels, audio.sample_rate, first, tuple(edges), audio.layout)
    counted = [
        dataclasses.replace(p, samples=edges[i + 1] - edges[i]) for i, p in enumerate(pieces)
    ]
    return pcm, counted
