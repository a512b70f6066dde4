"""The video encoder ``exact`` mode uses: NVENC when it works here, else the CPU.

NVENC is chosen only when all three hold: a GPU is visible (``nvidia-smi`` on PATH or
``/dev/nvidia0``), ffmpeg lists the encoder, and a one-frame test encode succeeds (an
ffmpeg built with NVENC still fails on a machine whose driver is too old or whose
encoder sessions are used up). The answer is cached for the process.

The encoder keeps the source's pixel format where it takes it (10-bit HDR stays 10-bit,
4:2:2 stays 4:2:2), else gets the nearest it takes: see :func:`pixel_format`.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av

from ._ffmpeg import FfmpegError, encoders, pixel_formats, run_ffmpeg

__all__ = ["Encoder", "gpu_visible", "nvenc_works", "pick_encoder", "pixel_format"]

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
    pixel_format: str = "yuv420p"
    narrowed: str = ""
    """Why the pixel format has fewer bits or other chroma than the source's ("" when it
    keeps them): for a warning."""

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


def pick_encoder(
    codec: VideoCodec,
    *,
    crf: int,
    gpu: Literal["auto", "off"] = "auto",
    source_format: str = "",
    width: int = 0,
    height: int = 0,
) -> Encoder:
    """NVENC (with NVDEC decoding) when ``gpu`` is auto and it works here, else libx264/5;
    either gets the pixel format nearest ``source_format`` that it takes, at the source's
    ``width`` and ``height`` (0: unknown)."""
    if gpu == "auto" and gpu_visible() and nvenc_works(_GPU[codec]):
        name = _GPU[codec]
        chosen, narrowed = pixel_format(source_format, pixel_formats(name), width, height)
        return Encoder(
            name,
            ("-hwaccel", "cuda"),
            ("-c:v", name, "-preset", "p5", "-rc", "vbr", "-cq", str(crf), "-b:v", "0",
             "-pix_fmt", chosen),
            chosen,
            narrowed,
        )  # fmt: skip
    name = _CPU[codec]
    chosen, narrowed = pixel_format(source_format, pixel_formats(name), width, height)
    return Encoder(
        name,
        (),
        ("-c:v", name, "-crf", str(crf), "-preset", "veryfast", "-pix_fmt", chosen),
        chosen,
        narrowed,
    )


_DEFAULT_FORMAT = "yuv420p"


def _shape(name: str) -> tuple[int, int, int, bool] | None:
    """(chroma width and height divisors, bits per component, grey) of a pixel format;
    RGB and palette formats count as full-resolution colour. None for an unknown name."""
    try:
        fmt = av.VideoFormat(name)
    except (ValueError, av.FFmpegError):
        return None
    bits = max((c.bits for c in fmt.components), default=8)
    grey = len(fmt.components) in {1, 2} and not fmt.has_palette
    if fmt.is_rgb or fmt.has_palette:
        return 1, 1, bits, False
    return 16 // fmt.chroma_width(16), 16 // fmt.chroma_height(16), bits, grey


def pixel_format(
    source: str, supported: Sequence[str], width: int = 0, height: int = 0
) -> tuple[str, str]:
    """The pixel format to encode a ``source``-format video in, and why it narrows the
    source's or changes its chroma ("" when it does neither).

    The source's own when the encoder takes it. Else, among the encoder's YUV (or grey,
    for grey) formats without alpha and with the source's chroma subsampling, the one with
    the fewest bits that hold the source's, or the most bits there are; else yuv420p.
    RGB counts as 4:4:4. An unknown source or encoder list gives yuv420p, as before any
    of this was read. Where subsampled chroma does not divide ``width`` x ``height`` (a
    321x241 VP9 in 4:2:0), the 4:4:4 format of the same bits: x264 refuses the other.
    """
    chosen, note = _nearest_format(source, supported)
    whole = _whole_chroma(chosen, supported, width, height)
    if whole is None:
        return chosen, note
    lost = _narrowing(source, whole) if source else ""
    odd = (
        f"{chosen}'s subsampled chroma does not divide {width}x{height}: encoding as {whole} "
        "(4:4:4, which fewer players decode)"
    )
    return whole, f"{lost}; {odd}" if lost else odd


def _whole_chroma(chosen: str, supported: Sequence[str], width: int, height: int) -> str | None:
    """The 4:4:4 format with ``chosen``'s bits, where ``chosen``'s subsampled chroma does
    not divide ``width`` x ``height``; None where it does (or no such format is listed)."""
    shape = _shape(chosen)
    if shape is None or shape[3] or not width or not height:
        return None
    if width % shape[0] == 0 and height % shape[1] == 0:
        return None
    for name, other in _yuv_formats(supported):
        if other[:2] == (1, 1) and other[2] == shape[2] and not other[3]:
            return name
    return None


def _yuv_formats(supported: Sequence[str]) -> Iterator[tuple[str, tuple[int, int, int, bool]]]:
    """The formats of ``supported`` that are YUV or grey without alpha (no RGB, no
    palette, no hardware surface such as NVENC's ``cuda``), each with its :func:`_shape`."""
    for name in supported:
        shape = _shape(name)
        if shape is None:
            continue
        fmt = av.VideoFormat(name)
        if not (fmt.is_rgb or fmt.has_palette) and len(fmt.components) in {1, 3}:
            yield name, shape


def _nearest_format(source: str, supported: Sequence[str]) -> tuple[str, str]:
    """:func:`pixel_format` without a size."""
    if not source or not supported:
        return _DEFAULT_FORMAT, ""
    if source in supported:
        return source, ""
    want = _shape(source)
    if want is None:
        return _DEFAULT_FORMAT, ""
    chroma, bits, grey = want[:2], want[2], want[3]
    fits = [
        (name, shape[2])
        for name, shape in _yuv_formats(supported)
        if shape[:2] == chroma and shape[3] == grey
    ]
    enough = [f for f in fits if f[1] >= bits]
    if enough:
        chosen = min(enough, key=lambda f: f[1])[0]
    elif fits:
        chosen = max(fits, key=lambda f: f[1])[0]
    else:
        chosen = _DEFAULT_FORMAT if _DEFAULT_FORMAT in supported else supported[0]
    return chosen, _narrowing(source, chosen)


def _narrowing(source: str, chosen: str) -> str:
    """What encoding ``source`` frames as ``chosen`` loses: bits, chroma or alpha."""
    was, now = _shape(source), _shape(chosen)
    if was is None or now is None:
        return ""
    lost = []
    if now[2] < was[2]:
        lost.append(f"{was[2]} bits down to {now[2]}")
    if not was[3] and any(n > w for n, w in zip(now[:2], was[:2], strict=True)):
        lost.append("coarser chroma")
    if len(av.VideoFormat(source).components) in {2, 4} and not av.VideoFormat(chosen).has_palette:
        lost.append("no alpha")
    if not lost:
        return ""
    return f"the encoder takes no {source}: encoding as {chosen} ({', '.join(lost)})"
