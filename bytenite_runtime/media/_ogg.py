"""Vorbis results joined into one Ogg stream in this process, packet after packet.

ffmpeg's concat demuxer cannot give the Ogg muxer Vorbis whole: every result's first
packet carries its comment header anew, on which the muxer starts a chained stream whose
granules restart the count (read back, times run to three times the length); through
Matroska in between, times are rounded to milliseconds and the last page's end trim is
lost, so the final packet decodes whole (a 3 s tone came back 960 samples long). Here
each result's packets follow the previous result's last one, their durations kept: the
Ogg muxer's granules (a packet's time plus its duration) count as the source's did, and
the last one keeps the source's end trim.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from .cut import copied_stream
from .probe import MediaInfo, open_media
from .slots import without_slot

__all__ = ["join_vorbis"]


def join_vorbis(infos: Sequence[MediaInfo], containers: Sequence[Any | None], target: Path) -> None:
    """Join the audio-only Vorbis results probed as ``infos`` (open as ``containers``, or
    None to open here) into the Ogg file ``target``, with the first result's stream tags
    (as ffmpeg copies them)."""
    with av.open(str(target), "w", format="ogg") as out:
        stream = None
        end: Fraction | None = None
        for info, given in zip(infos, containers, strict=True):
            assert info.audio is not None
            with contextlib.ExitStack() as stack:
                source = given or stack.enter_context(open_media(info.path))
                if given is not None:
                    given.seek(0)  # the probe demuxed it to the end
                track = source.streams[info.audio.index]
                if stream is None:
                    stream = copied_stream(out, track, info.path)
                    stream.metadata.update(without_slot(track.metadata))
                time_base = Fraction(track.time_base)
                shift: int | None = None
                for packet in source.demux(track):
                    if packet.pts is None or packet.size == 0:
                        continue
                    if shift is None:
                        shift = 0 if end is None else round(end / time_base) - packet.pts
                    # A fresh packet: the source's carries its comment header as side data,
                    # on which the muxer would start a chained stream.
                    fresh = av.Packet(bytes(packet))
                    fresh.pts = fresh.dts = packet.pts + shift
                    fresh.duration = packet.duration
                    fresh.time_base = track.time_base
                    fresh.stream = stream
                    out.mux(fresh)
                    end = (fresh.pts + (packet.duration or 0)) * time_base
