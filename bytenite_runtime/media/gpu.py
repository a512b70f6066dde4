"""The video encoder ``exact`` mode uses: NVENC when it works here, else the CPU.

NVENC is chosen only when all three hold: a GPU is visible (``nvidia-smi`` on PATH or
``/dev/nvidia0``), ffmpeg lists the encoder, and a one-frame test encode succeeds (an
ffmpeg built with NVENC still fails on a machine whose driver is too old or whose
encoder sessions are used up). The answer is cached for the process.
"""

from __future__ import annotations

import functools
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._ffmpeg import FfmpegError, encoders, run_ffmpeg

__all__ = ["Encoder", "gpu_visible", "nvenc_works", "pick_encoder"]

VideoCodec = Literal["h264", "hevc"]
_CPU = {"h264": "libx264", "hevc": "libx265"}
_GPU = {"h264": "h264_nvenc", "hevc": "hevc_nvenc"}


@dataclass(frozen=True)
class Encoder:
    """An encoder and the ffmpeg arguments that go with it."""

    name: str
    input_args: tuple[str, ...]
    """Before ``-i``: hardware decoding (NVDEC) for the GPU path."""
    output_args: tuple[str, ...]

    @property
    def is_gpu(self) -> bool:
        return self.name.endswith("_nvenc")


def gpu_visible() -> bool:
    """True when an NVIDIA GPU is visible to this process."""
    return shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()


@functools.cache
def nvenc_works(name: str) -> bool:
    """True when ffmpeg lists ``name`` and a one-frame encode with it succeeds."""
    if name not in encoders():
        return False
    try:
        run_ffmpeg(
            ["-f", "lavfi", "-i", "color=c=black:s=256x256:d=0.1", "-frames:v", "1",
             "-c:v", name, "-f", "null", "-"],
            what=f"testing {name}",
        )  # fmt: skip
    except FfmpegError:
        return False
    return True


def pick_encoder(codec: VideoCodec, *, crf: int, gpu: Literal["auto", "off"] = "auto") -> Encoder:
    """NVENC (with NVDEC decoding) when ``gpu`` is auto and it works here, else libx264/5."""
    if gpu == "auto" and gpu_visible() and nvenc_works(_GPU[codec]):
        return Encoder(
            _GPU[codec],
            ("-hwaccel", "cuda"),
            ("-c:v", _GPU[codec], "-preset", "p5", "-rc", "vbr", "-cq", str(crf), "-b:v", "0"),
        )
    return Encoder(
        _CPU[codec],
        (),
        ("-c:v", _CPU[codec], "-crf", str(crf), "-preset", "veryfast", "-pix_fmt", "yuv420p"),
    )
