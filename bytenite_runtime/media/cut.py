"""Writing ``time-chunk`` chunks: stream copy (one demux pass), exact re-encode, PCM.

Every writer is a generator of finished chunk files, in order, inside a scratch folder
the caller owns and removes. Audio is never re-encoded per chunk, the cause of a click
at every joint (each encoder adds its own priming and padding): with ``audio: copy``
each packet goes whole into the chunk its start time falls in, so the joined track is
the source's packet for packet, priming only at the very start; with ``audio: pcm`` the
track is decoded once and each chunk gets its exact run of samples, to be encoded once
after the join.
"""

from __future__ import annotations

from ._cut_copy import write_copy
from ._cut_exact import write_exact_audio, write_exact_video
from ._cut_out import Pcm, copied_stream

__all__ = ["Pcm", "copied_stream", "write_copy", "write_exact_audio", "write_exact_video"]
