"""The rotation an MP4/MOV track's header asks players to show its video at.

The ``tkhd`` box of each track holds a transformation matrix: a phone's portrait video
is stored landscape with a 90° matrix. ffmpeg turns the frames upright when it decodes
them for an encoder (``autorotate``), and a stream copy keeps the matrix, so a join
that re-encodes must size its output to the upright picture, and results whose
rotations differ cannot be stream-copied under the first one's matrix. PyAV 18 gives no
reader for the matrix, so it is read here, from the ``moov`` box the probe read once.
"""

from __future__ import annotations

import struct

from ._mp4index import iter_boxes

__all__ = ["display_rotation"]

# Where the matrix starts in a tkhd payload: after version and flags, the times, the
# track id and duration (32- or 64-bit by version), then layer, group, volume.
_MATRIX_AT = {0: 40, 1: 52}
# The signs of the matrix's a, b, c, d for each quarter turn (whatever its scale).
_TURNS = {(1, 0, 0, 1): 0, (0, -1, 1, 0): 90, (-1, 0, 0, -1): 180, (0, 1, -1, 0): 270}


def display_rotation(moov: bytes, index: int) -> int:
    """Degrees (0, 90, 180 or 270, counter-clockwise; ffprobe gives 270 as -90) of
    stream ``index`` of the MP4/MOV file whose ``moov`` box this is: ffmpeg numbers
    streams in the order of their ``trak`` boxes. 0 for a track whose header cannot be
    read, and for a matrix that is no quarter turn (a mirror, a scale)."""
    try:
        traks = [(a, b) for kind, a, b in iter_boxes(moov, 8, len(moov)) if kind == b"trak"]
        if index >= len(traks):
            return 0
        tkhd = next((a for kind, a, _ in iter_boxes(moov, *traks[index]) if kind == b"tkhd"), None)
        if tkhd is None or moov[tkhd] not in _MATRIX_AT:
            return 0
        a, b, _, c, d, *_ = struct.unpack_from(">9i", moov, tkhd + _MATRIX_AT[moov[tkhd]])
    except (ValueError, struct.error):
        return 0
    return _TURNS.get(tuple((v > 0) - (v < 0) for v in (a, b, c, d)), 0)
