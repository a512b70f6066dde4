"""The join's stream copy: ffmpeg's concat demuxer, each file placed by its listing's
directives (see :mod:`.join`)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._inputs import Result
from ._ffmpeg import run_ffmpeg
from ._join_codecs import AUDIO_ENCODERS, encodes_pcm, moves_beside_opus, opus_lead
from ._ogg import join_vorbis
from .probe import MediaInfo
from .slots import clearing_slot

__all__ = ["join_by_copy"]


def _lead(info: MediaInfo) -> float:
    """Seconds the concat demuxer places ``info``'s first packet before the file's slot."""
    track = info.video or info.audio
    if track is None or info.indexed:
        return 0.0
    return info.container_start - track.start


def join_by_copy(
    members: Sequence[Result],
    infos: Sequence[MediaInfo],
    containers: Sequence[Any | None],
    target: Path,
    muxer: str,
) -> None:
    """Stream-copy ``members`` (probed as ``infos``; open as ``containers``, or None where
    not kept open) into ``target``."""
    if muxer == "ogg" and all(
        i.video is None and i.audio is not None and i.audio.codec == "vorbis" for i in infos
    ):
        join_vorbis(infos, containers, target)
        return
    with tempfile.TemporaryDirectory(prefix="bytenite-join-") as scratch:
        listing = Path(scratch) / "list.ffconcat"
        lines = ["ffconcat version 1.0"]
        for n, (member, info) in enumerate(zip(members, infos, strict=True)):
            quoted = str(member.path.resolve()).replace("'", "'\\''")
            lines.append(f"file '{quoted}'")
            video, span_end = info.video, (info.video or info.audio)
            assert span_end is not None
            # The next file's first packet lands at its own time minus its own start: where
            # the two differ (Ogg pre-skip, Matroska codec delay) the gap is this file's too.
            lead = _lead(infos[n + 1]) if n + 1 < len(infos) else 0.0
            if video is not None and info.indexed:
                # MP4/MOV seek to the first frame without dropping the audio priming
                # before it, which keeps its negative time (-copyts) and its edit list;
                # but a seek to a first frame at 0 (no B-frames) lands the audio on its
                # packet at 0, past the priming: the first file is then read whole.
                if n or video.start > 0:
                    lines.append(f"inpoint {video.start:.6f}")
                lines.append(f"duration {video.end - video.start:.6f}")
            else:
                # Elsewhere an inpoint seek can drop that first packet: the demuxer places
                # the file by its own start, so the span runs from there to the last frame.
                lines.append(f"duration {span_end.end - info.container_start + lead:.6f}")
        listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
        codecs = ["-c", "copy"]
        audio = infos[0].audio
        if encodes_pcm(infos[0], muxer):
            # Chunks carried PCM (audio='pcm'): the joined track is encoded here, once.
            codecs += ["-c:a", AUDIO_ENCODERS[muxer]]
        moves = infos[0].video is not None and moves_beside_opus(muxer)
        lead = opus_lead(infos[0], muxer) if moves else 0.0
        if lead > 0:
            # Opus packets handed over that much later, none below zero, so the muxer moves
            # no stream; readers take the CodecDelay off them again. (5.1's setts misreads
            # an encoder's time base: the samples are moved before the encoder instead.)
            if encodes_pcm(infos[0], muxer):
                codecs += ["-af", f"asetpts=PTS+{lead:.6f}/TB"]
            else:
                codecs += ["-bsf:a", f"setts=ts=TS+ceil({lead:.6f}/TB)"]
        # Every file's first Vorbis packet carries its comment header anew, on which the Ogg
        # muxer starts a chained stream whose granules restart the count: read back, times
        # run to three times the length. Matroska in between drops that; then Ogg, one link
        # (audio-only results are joined sample for sample in this process instead).
        chained = muxer == "ogg" and audio is not None and audio.codec == "vorbis"
        joined = Path(scratch) / "joined.mka" if chained else target
        run_ffmpeg(
            ["-copyts", "-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0", *codecs,
             *clearing_slot(infos[0].tags), "-f", "matroska" if chained else muxer, str(joined)],
            what=f"{target.name}: joining {len(members)} result(s)",
        )  # fmt: skip
        if chained:
            run_ffmpeg(
                ["-i", str(joined), "-map", "0", "-c", "copy", "-f", muxer, str(target)],
                what=f"{target.name}: remuxing the joined Vorbis to Ogg",
            )
