"""``time-chunk``'s stream copy: one demux pass, or two halves at once for a large MP4/MOV."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av

from ._cut_out import Pcm
from ._cut_pieces import CopyPlan, copy_pieces
from .plan import audio_piece_of
from .probe import MediaInfo, open_media

__all__ = ["write_copy"]


def write_copy(
    info: MediaInfo,
    bounds: Sequence[int] | Sequence[float],
    folder: Path,
    fmt: str,
    comments: Sequence[str | None],
    pcm: Pcm | None = None,
) -> Iterator[Path]:
    """Stream-copy the source into one file per piece in a single demux pass.

    ``bounds`` are video pts (video files) or absolute seconds of the audio cuts
    (audio-only), the first being the start. Video switches chunk at each boundary
    keyframe in decode order; audio packets go by start time. A chunk is closed and
    yielded once both streams have passed its end. With ``pcm``, a chunk's audio is its
    exact run of decoded samples instead, muxed when the chunk is opened.

    A large MP4/MOV is copied in two halves at once, the second from a seek to the cut
    nearest its middle: demuxing and muxing run without the GIL, and on 2 cores a 776 MB
    mezzanine's 6 chunks took 155 ms instead of 255. Where the seek does not land on that
    cut's keyframe with every later packet after it, one pass copies it all.
    """
    plan = CopyPlan.of(info, bounds, folder, fmt, comments, pcm)
    split = _split_piece(plan)
    if split is None:
        with open_media(info.path) as source:
            yield from copy_pieces(plan, source, source.demux(plan.streams(source)), 0, None)
        return
    seeked: Future[bool] = Future()
    cancel = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="bytenite-copy") as pool:
        later = pool.submit(_copy_later, plan, split, seeked, cancel)
        try:
            with open_media(info.path) as source:
                packets = source.demux(plan.streams(source))
                stop = split if seeked.result() else None
                yield from copy_pieces(plan, source, packets, 0, stop)
            yield from later.result()
        finally:
            cancel.set()


# Below this a second open (~15 ms for an MP4 with 720p H.264: the stream analysis
# decodes a frame) and the thread cost about what the halved copy saves: a 62 MB clip
# took 49-54 ms in two halves, 46-48 ms in one pass.
_SPLIT_BYTES = 64 << 20


def _split_piece(plan: CopyPlan) -> int | None:
    """The piece a second thread copies from (the one starting nearest the middle of the
    video), or None where one pass is safer or as fast."""
    info, video = plan.info, plan.info.video
    if video is None or plan.count < 2 or (os.cpu_count() or 1) < 2:
        return None
    # Seeking is exact only by an index (MP4/MOV), and packets must come in time order.
    if not info.indexed or info.disorder is not None:
        return None
    if info.path.stat().st_size < _SPLIT_BYTES:
        return None
    middle = (video.start + video.end) / 2
    split = min(range(1, plan.count), key=lambda i: abs(plan.cut_seconds[i - 1] - middle))
    audio = plan.audio
    if audio is not None:
        # Each half tells where the other's audio starts by time: packets must come in
        # time order, and the first half stops at the first one past the split.
        times = [pts for pts, _ in audio.packets]
        if any(b <= a for a, b in itertools.pairwise(times)):
            return None
        num, den = audio.time_base.numerator, audio.time_base.denominator
        if audio_piece_of(plan.cut_seconds, times[-1] * num / den) < split:
            return None
    return split


def _copy_later(
    plan: CopyPlan, split: int, seeked: Future[bool], cancel: threading.Event
) -> list[Path]:
    """Pieces ``split`` on, copied from a seek to their first keyframe; ``seeked`` says
    whether it landed where no packet of theirs comes before it (else nothing is copied)."""
    video = plan.info.video
    assert video is not None
    try:
        source = open_media(plan.info.path)
    except BaseException as exc:
        seeked.set_exception(exc)
        raise
    with source:
        streams = plan.streams(source)
        vstream = source.streams[video.index]
        try:
            # Backward from the keyframe's own time: the last keyframe decoded by then.
            source.seek(int(plan.bounds[split]), backward=True, any_frame=False, stream=vstream)
            packets = source.demux(streams)
            head = _first_of_each(packets, len(streams))
        except av.FFmpegError:
            # The one pass meets (and names) whatever is wrong there.
            seeked.set_result(False)
            return []
        except BaseException as exc:
            seeked.set_exception(exc)
            raise
        first_video = next((p for p in head if p.stream_index == video.index), None)
        first_audio = next((p for p in head if p.stream_index != video.index), None)
        landed = first_video is not None and first_video.pts == plan.bounds[split]
        if landed and first_audio is not None:
            at = float(first_audio.pts * first_audio.time_base)
            # Audio packets come in time order: the first one seen belongs before the split,
            # so none of the later pieces' was passed over.
            landed = audio_piece_of(plan.cut_seconds, at) < split
        seeked.set_result(landed)
        if not landed:
            return []
        return list(copy_pieces(plan, source, itertools.chain(head, packets), split, None,
                                 cancel))  # fmt: skip


def _first_of_each(packets: Iterator[Any], streams: int) -> list[Any]:
    """Packets up to the first (with data and a time) of each of ``streams`` streams."""
    head: list[Any] = []
    seen: set[int] = set()
    for packet in packets:
        head.append(packet)
        if packet.size and packet.pts is not None:
            seen.add(packet.stream_index)
            if len(seen) == streams:
                break
    return head
