"""Media results joined in chunk order: stream copy when the codecs match, else re-encode.

The copy path is ffmpeg's concat demuxer with two directives per file that the plain
demuxer gets wrong for chunked video: ``inpoint`` at the first video frame, so audio
priming before it keeps its negative time instead of pushing the video late, and
``duration`` = the video's own span, so a last audio packet that overhangs the last
frame does not shift the next chunk (the drift that makes "non-monotonous DTS").
MP4/MOV results going into an MP4/MOV are joined in this process instead, as the concat
demuxer would (:mod:`.remux`), from the containers their probes opened; audio-only Vorbis
results going into an Ogg file are too, packet after packet (:mod:`._ogg`).
A re-encode decodes every result and places its frames and samples by its own times,
one result after the previous one's last frame (:mod:`._join_encode`).
Results and output are probed (packets only) to check counts against chunk metadata;
a result's metadata comes from the tags of that same open, not a second one.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .._inputs import Result
from ..tables.join import label
from . import MUXERS
from ._join_checks import (
    check_chunk,
    check_joints,
    check_none_missing,
    check_output,
    check_video_kept,
    signature,
    streams_differ,
    what_differs,
)
from ._join_codecs import container_misfit, encodes_pcm
from ._join_copy import join_by_copy
from ._join_encode import join_by_reencode
from .probe import MediaInfo, describe, open_media
from .remux import can_remux, remux
from .slots import meta_from_tags

__all__ = ["join_media"]


_PROBE_THREADS = 4
# Results kept open from their probe for an in-process join, at most: past it (file
# descriptors) the join opens each again.
_KEPT_OPEN = 64


def _probe_all(paths: Sequence[Path]) -> list[MediaInfo]:
    """Every path probed, in order; the first failure in that order is raised."""
    with contextlib.ExitStack() as stack:
        return [info for info, _ in _open_all(paths, stack, keep=False)]


def _open_all(
    paths: Sequence[Path], stack: contextlib.ExitStack, *, keep: bool
) -> list[tuple[MediaInfo, Any | None]]:
    """Every path probed, in order, with its container left open on ``stack`` when
    ``keep`` (and there are not too many); the first failure in that order is raised."""
    keep = keep and len(paths) <= _KEPT_OPEN

    def opened(path: Path) -> tuple[MediaInfo, Any | None]:
        container = open_media(path)
        try:
            info = describe(path, container)
        except BaseException:
            container.close()
            raise
        if keep:
            return info, container
        container.close()
        return info, None

    # Probing is demuxing (or reading an MP4's index), and PyAV does both with the GIL
    # released: on 2 cores a second thread took the probes of 6 results of a 776 MB clip
    # from 125 to 67 ms (before MP4s were probed from their index).
    workers = max(1, min(len(paths), os.cpu_count() or 1, _PROBE_THREADS))
    with ThreadPoolExecutor(workers, thread_name_prefix="bytenite-probe") as pool:
        futures = [pool.submit(opened, p) for p in paths]
    found, failure = [], None
    for future in futures:
        try:
            info, container = future.result()
        except BaseException as exc:
            failure = failure or exc
            continue
        if container is not None:
            stack.callback(container.close)
        found.append((info, container))
    if failure is not None:
        raise failure
    return found


def join_media(
    members: Sequence[Result],
    target: Path,
    *,
    reencode: bool,
    verify: bool,
    log: logging.Logger,
    elsewhere: Collection[int] = (),
) -> None:
    """Join ``members`` (in chunk order) into ``target``, checking counts on the way;
    ``elsewhere``: the chunks with results under other names (not missing from this one)."""
    with contextlib.ExitStack() as stack:
        opened = _open_all([m.path for m in members], stack, keep=True)
        _join(
            members, opened, target, reencode=reencode, verify=verify, log=log,
            elsewhere=elsewhere,
        )  # fmt: skip


def _join(
    members: Sequence[Result],
    opened: Sequence[tuple[MediaInfo, Any | None]],
    target: Path,
    *,
    reencode: bool,
    verify: bool,
    log: logging.Logger,
    elsewhere: Collection[int],
) -> None:
    infos = [info for info, _ in opened]
    containers = [container for _, container in opened]
    check_video_kept(members, infos)
    if verify:
        metas = [meta_from_tags(i.tags, m.path) for m, i in zip(members, infos, strict=True)]
        for member, info, meta in zip(members, infos, metas, strict=True):
            check_chunk(member, info, meta)
        check_none_missing(target, metas, elsewhere)
    differ = streams_differ(infos)
    ext = target.suffix.lower().lstrip(".")
    muxer = MUXERS.get(ext, "matroska")
    misfit = None if differ else container_misfit(infos[0], muxer, ext)
    decoded = reencode or differ or misfit is not None
    if verify and not decoded:
        check_joints(members, infos)
    if decoded:
        if misfit is not None and not reencode:
            log.warning("%s: %s: re-encoding", target.name, misfit)
        elif not reencode:
            first = signature(infos[0])
            odd, info = next(
                (m, i) for m, i in zip(members, infos, strict=True) if signature(i) != first
            )
            differs = what_differs(infos[0], info, label(members[0]))
            log.warning("%s: %s: re-encoding", label(odd), differs)
        join_by_reencode(members, infos, target, muxer, log)
    elif encodes_pcm(infos[0], muxer) or not (
        can_remux(infos, muxer) and remux(infos, containers, target, muxer)
    ):
        join_by_copy(members, infos, containers, target, muxer)
    if verify:
        reencoded = decoded or encodes_pcm(infos[0], muxer)
        check_output(target, infos, reencoded=reencoded, decoded=decoded)
