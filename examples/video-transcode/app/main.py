"""Video transcode: re-encode this task's chunk with libx264, audio passed through.

The chunk is a playable video file (``time-chunk`` in copy mode cut it on keyframes).
Audio is copied, never re-encoded per chunk: each chunk holds whole audio packets, so
the joined track is the source's with no priming click at the joints. ffmpeg copies
the chunk's global metadata (its ``comment`` tag) to the output, which is how the
concat assembler learns each chunk's expected frame count.
"""

from typing import Literal

from pydantic import BaseModel, Field

from bytenite_runtime import task
from bytenite_runtime.media import run_ffmpeg


class Params(BaseModel):
    crf: int = Field(23, ge=0, le=51)
    preset: Literal["ultrafast", "veryfast", "fast", "medium", "slow"] = "veryfast"


@task.app(params=Params)
def main(ctx: task.AppContext[Params]) -> None:
    out = ctx.results.path("transcoded.mp4")
    # A failure raises FfmpegError: the command and the last lines of ffmpeg's stderr.
    run_ffmpeg(
        ["-i", str(ctx.chunk.path), "-map", "0", "-c:v", "libx264",
         "-crf", str(ctx.params.crf), "-preset", ctx.params.preset, "-pix_fmt", "yuv420p",
         "-fps_mode", "passthrough", "-c:a", "copy", "-f", "mp4", str(out)],
        what=f"chunk {ctx.chunk.index}",
    )  # fmt: skip
    fields = ctx.chunk.fields
    ctx.log.info(
        "chunk %s: %s frames from %s s re-encoded", ctx.chunk.index, fields.get("frames"),
        fields.get("start"),
    )  # fmt: skip


if __name__ == "__main__":
    main.run()
