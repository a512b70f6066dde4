"""Where ``time-chunk`` cuts: requested times snapped to keyframes or frames, planned
before anything is written so every chunk knows its index, the count and its counts."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from .probe import MediaInfo, VideoTrack

__all__ = ["Piece", "plan_audio", "plan_video", "requested_cuts"]

Mode = Literal["copy", "exact"]


@dataclass(frozen=True)
class Piece:
    """One planned chunk: seconds from the media's start, and what it holds."""

    index: int
    start: float
    end: float
    frames: int
    samples: int
    requested: float
    """The start that was asked for (equal to ``start`` in ``exact`` mode, to a frame)."""

    @property
    def duration(self) -> float:
        return self.end - self.start

    def fields(self, mode: Mode, container: str) -> dict[str, object]:
        return {
            "start": round(self.start, 6), "duration": round(self.duration, 6),
            "frames": self.frames, "samples": self.samples, "requested_start":
            round(self.requested, 6), "mode": mode, "container": container,
        }  # fmt: skip


def requested_cuts(
    duration: float, segment_seconds: float | None, num_chunks: int | None
) -> list[float]:
    """Offsets (seconds from the start) where chunks should begin, the first (0) left out."""
    if num_chunks is not None:
        return [duration * k / num_chunks for k in range(1, num_chunks)]
    assert segment_seconds is not None
    count = max(1, math.ceil(duration / segment_seconds - 1e-9))
    return [segment_seconds * k for k in range(1, count)]


def _nearest(candidates: Sequence[int], target: Fraction) -> int | None:
    at = bisect.bisect_left(candidates, target)
    near = [candidates[i] for i in (at - 1, at) if 0 <= i < len(candidates)]
    # Ties go to the earlier one: chunks never grow past the request for nothing.
    return min(near, key=lambda c: abs(c - target)) if near else None


def plan_video(info: MediaInfo, cuts: Sequence[float], mode: Mode) -> tuple[list[int], list[Piece]]:
    """Boundaries (video pts) and pieces: ``copy`` snaps each cut to the nearest keyframe,
    ``exact`` to the nearest frame; a cut that lands on an earlier one is dropped.

    Times run from the first frame shown. Frames hidden before it (a stream-copy cut's
    lead-in) go to the first piece, which keeps them hidden, and are not counted; frames
    before the first keyframe (orphans) are left out of the pieces."""
    video = info.video
    assert video is not None
    first = video.first_shown
    candidates = video.cut_pts if mode == "copy" else video.frame_pts
    candidates = candidates[bisect.bisect_right(candidates, first) :]
    bounds, asked = [first], [0.0]
    for cut in cuts:
        pick = _nearest(candidates, first + Fraction(cut) / video.time_base)
        if pick is not None and pick > bounds[-1]:
            bounds.append(pick)
            asked.append(cut)
    frames = _frames_per_piece(video, bounds, mode)
    seconds = [video.seconds(b - first) for b in bounds] + [video.end - video.start]
    samples = _samples_per_piece(info, [video.seconds(b) for b in bounds[1:]])
    pieces = [
        Piece(i, seconds[i], seconds[i + 1], frames[i], samples[i], asked[i])
        for i in range(len(bounds))
    ]
    return bounds, pieces


def _frames_per_piece(video: VideoTrack, bounds: Sequence[int], mode: Mode) -> list[int]:
    """Frames each piece shows: ``exact`` plans on the frames shown alone."""
    if mode == "exact":
        shown = video.frame_pts
        edges = [bisect.bisect_left(shown, b) for b in bounds] + [len(shown)]
        return [b - a for a, b in itertools.pairwise(edges)]
    # A stream copy cuts the packet sequence (decode order) at each boundary keyframe. The
    # first piece holds frames it never shows: the hidden lead-in and the orphans.
    unseen = {p for p in video.hidden_pts if p < bounds[0]}.union(video.orphan_pts)
    counts, current = [0] * len(bounds), 0
    for pts in video.decode_pts:
        if current + 1 < len(bounds) and pts == bounds[current + 1]:
            current += 1
        if not unseen or pts not in unseen:
            counts[current] += 1
    return counts


def audio_piece_of(cuts_seconds: Sequence[float], seconds: float) -> int:
    """The piece an audio packet starting at ``seconds`` goes to (each packet goes whole)."""
    return bisect.bisect_right(cuts_seconds, seconds + 1e-9)


def _samples_per_piece(info: MediaInfo, cuts_seconds: Sequence[float]) -> list[int]:
    samples = [0] * (len(cuts_seconds) + 1)
    audio = info.audio
    if audio is None:
        return samples
    # int / int is the Fraction's own float, without a Fraction per packet.
    num, den = audio.time_base.numerator, audio.time_base.denominator
    # Matroska and FLV keep times in milliseconds: a 1024-sample AAC packet at 48 kHz says
    # 21 ms for its 21.333, and the sum fell 1.6% short. Where the starts run further apart
    # than the durations say, and the next packet starts within a tick of this one's end, the
    # distance between their starts is its true length (an exact 20 ms Opus packet keeps its
    # own, though a rounded codec delay puts a tick between the first two).
    ordered = sorted(audio.packets)
    rounded = (
        len(ordered) > 1
        and (ordered[-1][0] - ordered[0][0]) / (len(ordered) - 1)
        - sorted(d for _, d in ordered)[len(ordered) // 2]
        > _ROUNDED_TICKS
    )
    for (pts, duration), following in zip(ordered, [*ordered[1:], None], strict=True):
        if rounded and following is not None and abs(following[0] - pts - duration) <= 1:
            duration = following[0] - pts
        piece = audio_piece_of(cuts_seconds, pts * num / den)
        samples[piece] += duration
    return [round(s * audio.time_base * audio.sample_rate) for s in samples]


_ROUNDED_TICKS = 0.1
"""How much further apart, on average, packet starts run than the typical duration says
before durations are taken for rounded (AAC in milliseconds: a third of a tick)."""
_MIN_PACKETS = 2
_MIN_RAW_PACKETS = {"mp3": 7, "adts": 3}
"""Frames from which libavformat is sure of a raw stream without a container (its probe
scores MP3 1 below seven frames, ADTS AAC 1 below three, against 51 from there)."""


def plan_audio(
    info: MediaInfo,
    cuts: Sequence[float],
    mode: Mode,
    total_samples: int | None = None,
    fmt: str = "",
) -> tuple[list[float], list[Piece]]:
    """Audio-only: ``copy`` cuts at the packet start nearest each request, ``exact`` at
    the nearest sample of the decoded stream (``total_samples``); bounds are absolute
    seconds, the first being the start. ``fmt`` is the container of ``copy`` chunks."""
    audio = info.audio
    assert audio is not None
    rate = audio.sample_rate
    if mode == "exact":
        assert total_samples is not None
        edges, wanted = [0], [0.0]
        for cut in cuts:
            at = min(round(cut * rate), total_samples)
            if edges[-1] < at < total_samples:
                edges.append(at)
                wanted.append(cut)
        edges.append(total_samples)
        pieces = [
            Piece(i, edges[i] / rate, edges[i + 1] / rate, 0, edges[i + 1] - edges[i], wanted[i])
            for i in range(len(edges) - 1)
        ]
        return [p.start for p in pieces], pieces
    starts = sorted(pts for pts, _ in audio.packets)
    first = starts[0]
    bounds, asked = [first], [0.0]
    # Every piece gets at least two packets: ffmpeg cannot tell a one-frame MP3 from noise
    # ("Invalid data found when processing input"), so such a chunk would be unreadable.
    # Raw MP3 and ADTS chunks get more: below _MIN_RAW_PACKETS a chunk whose audio bytes
    # happen to look like another format (H.263 start codes, for one) opens as that.
    least = _MIN_RAW_PACKETS.get(fmt, _MIN_PACKETS)
    taken = 0
    for cut in cuts:
        pick = _nearest(starts, first + Fraction(cut) / audio.time_base)
        if pick is None:
            continue
        at = bisect.bisect_left(starts, pick)
        if at - taken >= least and len(starts) - at >= least:
            bounds.append(pick)
            asked.append(cut)
            taken = at
    bound_seconds = [float(b * audio.time_base) for b in bounds]
    samples = _samples_per_piece(info, bound_seconds[1:])
    offsets = [float((b - first) * audio.time_base) for b in bounds]
    ends = [*offsets[1:], audio.samples / rate]
    pieces = [Piece(i, offsets[i], ends[i], 0, samples[i], asked[i]) for i in range(len(bounds))]
    return bound_seconds, pieces
