"""Write clip.mp4 beside this script: 6 s of testsrc + a sine, H.264 (keyframe every
25 frames, B-frames) and AAC, 320x240. Video is never committed; make it when needed:

    python examples/video-transcode/make_clip.py
"""

import sys
from pathlib import Path

from bytenite_runtime.media import run_ffmpeg


def make(target: Path, seconds: float = 6.0) -> Path:
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"testsrc=size=320x240:rate=30:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "2",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest", str(target)],
        what=f"writing {target.name}",
    )  # fmt: skip
    return target


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("clip.mp4")
    print(make(out))
