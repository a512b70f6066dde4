"""Why Pillow could not identify a file: empty, a format Pillow does not read in this
install, or a damaged file of a format it does.

Pillow says only "cannot identify image file" for all three, which tells a user with a
HEIC photo nothing. The file's first bytes tell them apart: each Pillow plugin's own
``accept`` check says which format they start, and a short table covers the formats
that cameras and browsers produce but Pillow has no plugin for (or, like AVIF, only
when built with the library).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from PIL import Image, features

from ..errors import DataError, listed

__all__ = ["readable_formats", "unidentified"]

_PREFIX = 64  # the ftyp box of an ISO-BMFF file (HEIF, AVIF) lists its brands here
_PILLOW_PREFIX = 16  # what Image.open hands each plugin's accept check
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1",
     b"mif2", b"msf1", b"heif"}
)  # fmt: skip
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
# label, the Pillow plugin ids that would read it, file name extensions
_FOREIGN: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "HEIF/HEIC": (frozenset({"HEIF", "HEIC"}), (".heic", ".heif", ".hif", ".heics", ".heifs")),
    "AVIF": (frozenset({"AVIF"}), (".avif", ".avifs")),
    "JPEG XL": (frozenset({"JXL"}), (".jxl",)),
    "OpenEXR": (frozenset({"EXR"}), (".exr",)),
    "SVG": (frozenset({"SVG"}), (".svg", ".svgz")),
    "PDF": (frozenset(), (".pdf",)),
}
# What the message lists first, in this order, when this install reads them.
_COMMON = ("PNG", "JPEG", "WEBP", "TIFF", "AVIF", "JPEG2000", "BMP", "GIF", "ICO", "PPM", "PSD")
_SHOWN = {"WEBP": "WebP", "JPEG2000": "JPEG 2000"}
# Plugins registered whatever the build, which read nothing without their library.
_FEATURE = {"AVIF": "avif", "WEBP": "webp", "JPEG2000": "jpg_2000"}


def readable_formats() -> list[str]:
    """The formats this install's Pillow reads, the common ones first, as shown to users."""
    ids = _readable_ids()
    ordered = [i for i in _COMMON if i in ids] + sorted(i for i in ids if i not in _COMMON)
    return [_SHOWN.get(i, i) for i in ordered]


def unidentified(path: Path, name: str) -> DataError:
    """The error for ``path``, which Pillow could not identify, naming ``name`` and saying
    whether it is empty, of a format Pillow does not read here, or damaged."""
    try:
        with path.open("rb") as stream:
            prefix = stream.read(_PREFIX)
    except OSError as exc:
        return DataError(f"{name}: cannot be read ({exc.strerror or exc})")
    if not prefix:
        return DataError(f"{name}: empty file (0 bytes), not an image")
    readers = _accepting(prefix[:_PILLOW_PREFIX])
    foreign = _foreign_by_content(prefix)
    if foreign is None and not readers:
        foreign = _foreign_by_suffix(path.name)
    if foreign is not None:
        ids = _FOREIGN[foreign][0]
        if not ids & set(readers or _readable_ids()):
            return DataError(
                f"{name}: {foreign} is not a format this install's Pillow reads (supported: "
                f"{listed(readable_formats(), 11)}); convert it first, e.g. to PNG"
            )
        readers = [r for r in readers if r in ids] or sorted(ids & set(_readable_ids()))
    layout = _tiff_layout(path) if readers[:1] == ["TIFF"] else None
    if layout is not None:
        return DataError(
            f"{name}: a TIFF of {layout} per pixel, a layout Pillow does not read; convert it "
            "first, e.g. to PNG"
        )
    if readers:
        shown = _SHOWN.get(readers[0], readers[0])
        return DataError(
            f"{name}: corrupt or truncated image ({shown} whose header Pillow cannot read)"
        )
    claimed = Image.registered_extensions().get(path.suffix.lower())
    if claimed is not None:
        shown = _SHOWN.get(claimed, claimed)
        return DataError(f"{name}: corrupt or truncated image (its bytes are not {shown})")
    return DataError(f"{name}: not an image Pillow can read")


def _readable_ids() -> list[str]:
    Image.init()
    return [i for i in Image.OPEN if i not in _FEATURE or features.check(_FEATURE[i])]


def _accepting(prefix: bytes) -> list[str]:
    """The Pillow plugins whose own check takes ``prefix`` as the start of their format
    (a check that answers with a reason, as AVIF's does when Pillow was built without
    libavif, takes nothing)."""
    Image.init()
    return [p for p, (_, accept) in Image.OPEN.items() if accept and _takes(accept, prefix)]


def _takes(accept: Callable[[bytes], bool | str], prefix: bytes) -> bool:
    try:
        taken = accept(prefix)
    except (struct.error, IndexError, ValueError):  # a plugin's check on a short prefix
        return False
    return bool(taken) and not isinstance(taken, str)


def _foreign_by_content(prefix: bytes) -> str | None:
    if prefix[4:8] == b"ftyp" and len(prefix) >= 12:
        # major brand, minor version, compatible brands to the end of the box
        (size,) = struct.unpack(">I", prefix[:4])
        end = min(max(size, 16), len(prefix))
        brands = {prefix[8:12]} | {prefix[i : i + 4] for i in range(16, end - 3, 4)}
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIF/HEIC"
        return None
    if prefix.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "JPEG XL"
    if prefix.startswith(b"v/1\x01"):
        return "OpenEXR"
    if prefix.startswith(b"%PDF-"):
        return "PDF"
    return None


def _foreign_by_suffix(file_name: str) -> str | None:
    suffix = Path(file_name).suffix.lower()
    return next((label for label, (_, ends) in _FOREIGN.items() if suffix in ends), None)


_SAMPLE_KINDS = {1: "unsigned integer", 2: "signed integer", 3: "float"}


def _tiff_layout(path: Path) -> str | None:
    """The samples a TIFF's first IFD describes (``1 sample of 16-bit float``), when its
    pixel layout is why Pillow cannot read a file that is otherwise sound; else None."""
    import warnings

    from PIL import TiffImagePlugin

    # Pillow warns of a damaged IFD it already warned of when it failed to open the file.
    try:
        with path.open("rb") as stream, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                TiffImagePlugin.TiffImageFile(stream)
            except SyntaxError as exc:
                if "unknown pixel mode" not in str(exc):
                    return None
            else:
                return None
            stream.seek(0)
            ifd = TiffImagePlugin.ImageFileDirectory_v2(stream.read(8))
            stream.seek(ifd.next)
            ifd.load(stream)
        count = int(ifd.get(277, 1))
        bits = {int(b) for b in ifd.get(258, (1,))}
        kinds = {_SAMPLE_KINDS.get(int(k), "undefined") for k in ifd.get(339, (1,))}
    except Exception:  # a damaged IFD: the plain "corrupt" message stands
        return None
    depth = "/".join(str(b) for b in sorted(bits))
    return f"{count} sample{'s' if count != 1 else ''} of {depth}-bit {'/'.join(sorted(kinds))}"
