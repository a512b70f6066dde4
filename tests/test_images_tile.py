"""The ``tile`` partitioner: grids, overlaps, edge policies, formats, EXIF, the metadata
slot of every format, and each bad-input row of the README's table for images."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _failing import failing_partition
from _pictures import decoded, encoded, noise_rgb
from PIL import Image

from bytenite_runtime import DataError
from bytenite_runtime.chunks import read_slot
from bytenite_runtime.errors import SettingsError
from bytenite_runtime.images import codec
from bytenite_runtime.images.pngstream import _chunk as png_chunk
from bytenite_runtime.testing import PartitionedChunk, run_assembler, run_partitioner


def _tiles(files: Mapping[str, bytes], **params: Any) -> list[PartitionedChunk]:
    return run_partitioner("tile", files, params)


def test_tile_size_plans_cells_row_by_row_with_smaller_edge_tiles() -> None:
    """100x70 in 40x30 tiles gives 3x3 tiles, row by row, the last column and row shrunk."""
    chunks = _tiles({"a.png": encoded(noise_rgb(100, 70))}, tile_width=40, tile_height=30)
    assert len(chunks) == 9
    metas = [c.meta for c in chunks]
    assert all(m is not None for m in metas)
    assert [m.fields["core"] for m in metas if m][:4] == [
        [0, 0, 40, 30], [40, 0, 80, 30], [80, 0, 100, 30], [0, 30, 40, 60],
    ]  # fmt: skip
    assert [decoded(c.data).size for c in chunks][-3:] == [(40, 10), (40, 10), (20, 10)]
    assert [m.index for m in metas if m] == list(range(9))
    assert {m.count for m in metas if m} == {9}


def test_every_tile_is_a_plain_image_whose_slot_names_its_box() -> None:
    """The slot metadata (box, full size, overlap, edge policy, source) matches the pixels."""
    source = noise_rgb(64, 48)
    chunks = _tiles({"photo.png": encoded(source)}, tile_width=32, overlap=4)
    for chunk in chunks:
        assert chunk.meta is not None and chunk.meta.source == "photo.png"
        fields = chunk.meta.fields
        assert fields["size"] == [64, 48]
        assert (fields["overlap"], fields["edge"]) == (4, "shrink")
        box = tuple(fields["box"])
        assert np.array_equal(np.asarray(decoded(chunk.data)), np.asarray(source.crop(box)))
    assert chunks[0].meta and chunks[0].meta.fields["box"] == [0, 0, 36, 36]


def test_grid_splits_as_evenly_as_integers_allow() -> None:
    """rows/cols give cells differing by at most a pixel, however the size divides."""
    chunks = _tiles({"a.png": encoded(noise_rgb(10, 7))}, rows=2, cols=3)
    widths = sorted({decoded(c.data).size[0] for c in chunks})
    assert len(chunks) == 6 and widths == [3, 4]


def test_tile_larger_than_the_image_gives_one_tile() -> None:
    """A tile size beyond the image is one tile: the whole image (padded with 'pad')."""
    source = noise_rgb(30, 20)
    (chunk,) = _tiles({"a.png": encoded(source)}, tile_width=512)
    assert np.array_equal(np.asarray(decoded(chunk.data)), np.asarray(source))
    (padded,) = _tiles({"a.png": encoded(source)}, tile_width=64, edge="pad")
    assert decoded(padded.data).size == (64, 64)


@pytest.mark.parametrize("fill", ["zero", "edge"])
def test_pad_tiles_all_have_the_full_size_and_the_stated_fill(fill: str) -> None:
    """With 'pad' every tile is tile + 2 x overlap; outside the image it holds the fill."""
    source = noise_rgb(50, 30)
    chunks = _tiles({"a.png": encoded(source)}, tile_width=32, overlap=2, edge="pad", fill=fill)
    assert {decoded(c.data).size for c in chunks} == {(36, 36)}
    first = np.asarray(decoded(chunks[0].data))
    assert chunks[0].meta and chunks[0].meta.fields["offset"] == [2, 2]
    src = np.asarray(source)
    assert np.array_equal(first[2:32, 2:], src[:, :34])
    expected_corner = 0 if fill == "zero" else src[0, 0]
    assert np.all(first[0, 0] == expected_corner)


@pytest.mark.parametrize(
    ("fmt", "magic"),
    [("png", b"\x89PNG"), ("jpeg", b"\xff\xd8\xff"), ("webp", b"RIFF"), ("tiff", b"II*\x00")],
)
def test_each_output_format_carries_the_metadata_in_its_own_slot(fmt: str, magic: bytes) -> None:
    """PNG text, JPEG comment, WebP XMP and TIFF ImageDescription all give the metadata back."""
    chunks = _tiles({"a.png": encoded(noise_rgb(40, 20))}, tile_width=20, format=fmt)
    assert all(c.data.startswith(magic) for c in chunks)
    assert [c.meta.fields["box"] for c in chunks if c.meta] == [[0, 0, 20, 20], [20, 0, 40, 20]]
    assert {decoded(c.data).size for c in chunks} == {(20, 20)}


def test_same_format_keeps_the_source_format() -> None:
    """By default a JPEG source gives JPEG tiles and a TIFF source TIFF tiles."""
    jpeg = _tiles({"a.jpg": encoded(noise_rgb(40, 20), "JPEG")}, tile_width=20)
    tiff = _tiles({"a.tif": encoded(noise_rgb(40, 20), "TIFF")}, tile_width=20)
    assert jpeg[0].data.startswith(b"\xff\xd8") and tiff[0].data[:2] in (b"II", b"MM")
    gif = _tiles({"a.gif": encoded(noise_rgb(40, 20).quantize(8), "GIF")}, tile_width=20)
    assert gif[0].data.startswith(b"\x89PNG")


def test_exif_orientation_is_applied_or_kept_by_option() -> None:
    """Orientation 6 (rotate 90°) swaps the size when applied; 'keep' tiles the stored pixels."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(noise_rgb(40, 20), "JPEG", exif=exif.tobytes())
    (applied,) = _tiles({"a.jpg": data}, tile_width=64)
    (kept,) = _tiles({"a.jpg": data}, tile_width=64, orientation="keep")
    assert decoded(applied.data).size == (20, 40)
    assert decoded(kept.data).size == (40, 20)
    assert kept.meta and kept.meta.fields["orientation"] == 6


_TURN = {
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    8: Image.Transpose.ROTATE_90,
}


@pytest.mark.parametrize("orientation", sorted(_TURN))
def test_tiff_orientation_is_applied_or_kept_like_any_other_format(orientation: int) -> None:
    """Pillow turns a TIFF upright while decoding it; 'apply' still gives the upright pixels
    and 'keep' the stored ones with the orientation recorded, as for JPEG or PNG."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    source = noise_rgb(37, 23)
    data = encoded(source, "TIFF", exif=exif.tobytes())
    (applied,) = _tiles({"a.tif": data}, tile_width=64, format="png")
    (kept,) = _tiles({"a.tif": data}, tile_width=64, format="png", orientation="keep")
    upright = source.transpose(_TURN[orientation])
    assert applied.meta and applied.meta.fields["size"] == list(upright.size)
    assert np.array_equal(np.asarray(decoded(applied.data)), np.asarray(upright))
    assert kept.meta and kept.meta.fields["orientation"] == orientation
    assert np.array_equal(np.asarray(decoded(kept.data)), np.asarray(source))


def test_several_sources_are_tiled_one_after_another() -> None:
    """Sources are tiled in name order, indices continuing across files."""
    chunks = _tiles(
        {"b.png": encoded(noise_rgb(20, 20)), "a.png": encoded(noise_rgb(40, 20))}, tile_width=20
    )
    assert [c.meta.source for c in chunks if c.meta] == ["a.png", "a.png", "b.png"]
    assert [c.meta.index for c in chunks if c.meta] == [0, 1, 2]


def test_metadata_off_writes_plain_tiles_without_a_slot() -> None:
    """chunk_metadata='off' leaves the slot out entirely."""
    chunks = _tiles({"a.png": encoded(noise_rgb(40, 20))}, tile_width=20, chunk_metadata="off")
    assert [c.meta for c in chunks] == [None, None]


def test_slot_reader_ignores_a_damaged_image(tmp_path: Path) -> None:
    """A file that only starts like a PNG has no metadata; the slot reader never raises."""
    path = tmp_path / "x.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert read_slot(path) is None


# -- bad input ---------------------------------------------------------------------------


def _failing(tmp_path: Path, files: Mapping[str, bytes], **params: Any) -> str:
    """The tile partitioner's bad-input message (a data or a settings error)."""
    return failing_partition(tmp_path, "tile", files, errors=(DataError, SettingsError), **params)


def test_decompression_bomb_is_rejected_from_the_header(tmp_path: Path) -> None:
    """An image over max_pixels fails before decoding, naming the file, size and param."""
    message = _failing(tmp_path, {"big.png": encoded(noise_rgb(200, 100))}, max_pixels=10_000)
    assert message == (
        "big.png: 200x100 = 20000 pixels exceeds max_pixels (10000); a decompression bomb? "
        "raise max_pixels if the image is genuine"
    )


def test_truncated_image_names_the_file(tmp_path: Path) -> None:
    """A truncated PNG fails with a DataError naming it, and no tile is left behind."""
    good = encoded(noise_rgb(20, 20))
    data = encoded(noise_rgb(64, 64))
    message = _failing(tmp_path, {"a.png": good, "photo.png": data[: len(data) // 2]})
    assert message.startswith("photo.png: corrupt or truncated image (")


def test_file_that_is_not_an_image_names_the_file(tmp_path: Path) -> None:
    """A source Pillow cannot identify is a DataError naming it."""
    assert _failing(tmp_path, {"notes.txt": b"hello"}) == "notes.txt: not an image Pillow can read"


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    """The start of an ISO-BMFF file (HEIF, AVIF): its ftyp box, then an empty meta box."""
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return (
        struct.pack(">I", 8 + len(body))
        + b"ftyp"
        + body
        + struct.pack(">I", 12)
        + b"meta"
        + bytes(4)
    )


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("photo.heic", _ftyp(b"heic", b"mif1", b"heic")),
        ("photo.heif", _ftyp(b"mif1", b"mif1", b"heic")),  # a brand Pillow's AVIF reader takes
        ("photo.jxl", b"\xff\x0a" + bytes(30)),
        ("photo.heic", b"\x00garbage under a HEIC name"),
    ],
)
def test_a_format_pillow_does_not_read_is_named_as_unsupported(
    tmp_path: Path, name: str, data: bytes
) -> None:
    """A HEIF/HEIC or JPEG XL source (by its first bytes, else its extension) is said to be
    a format this Pillow does not read, with the formats it does, not called damaged."""
    message = _failing(tmp_path, {name: data})
    label = "JPEG XL" if name.endswith(".jxl") else "HEIF/HEIC"
    assert message.startswith(
        f"{name}: {label} is not a format this install's Pillow reads (supported: PNG, JPEG, "
    )
    assert message.endswith("); convert it first, e.g. to PNG")
    assert "\n" not in message


def test_an_avif_source_is_unsupported_or_damaged_as_this_pillow_reads_avif(
    tmp_path: Path,
) -> None:
    """A cut AVIF is damage where Pillow was built with libavif, else an unsupported format."""
    from PIL import features

    message = _failing(tmp_path, {"photo.avif": _ftyp(b"avif", b"avif", b"mif1", b"miaf")})
    if features.check("avif"):
        assert (
            message
            == "photo.avif: corrupt or truncated image (AVIF whose header Pillow cannot read)"
        )
    else:
        assert message.startswith("photo.avif: AVIF is not a format this install's Pillow reads")


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("photo.png", encoded(noise_rgb(8, 8))[:12], "(PNG whose header Pillow cannot read)"),
        (
            "photo.jpg",
            encoded(noise_rgb(8, 8), "JPEG")[:4],
            "(JPEG whose header Pillow cannot read)",
        ),
        ("photo.png", b"an app wrote this text", "(its bytes are not PNG)"),
    ],
)
def test_a_file_of_a_format_pillow_reads_cut_in_its_header_is_called_damaged(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    """A PNG or JPEG cut inside its header, or text under a .png name, is a corrupt or
    truncated image, not 'not an image'."""
    assert _failing(tmp_path, {name: data}) == f"{name}: corrupt or truncated image {expected}"


@pytest.mark.parametrize("cut", [16, 20, 24])
def test_a_png_cut_inside_its_ihdr_chunk_is_called_damaged_in_the_readmes_words(
    tmp_path: Path, cut: int
) -> None:
    """A PNG cut inside its IHDR chunk, where Pillow raises "Truncated File Read", gets the
    same "PNG whose header Pillow cannot read" reason as a cut elsewhere in its header."""
    message = _failing(tmp_path, {"photo.png": encoded(noise_rgb(8, 8))[:cut]})
    assert message == "photo.png: corrupt or truncated image (PNG whose header Pillow cannot read)"


def test_an_empty_source_is_named_as_empty(tmp_path: Path) -> None:
    """A zero-byte source is called empty, not an unreadable image."""
    good = encoded(noise_rgb(8, 8))
    message = _failing(tmp_path, {"a.png": good, "b.png": b""})
    assert message == "b.png: empty file (0 bytes), not an image"


def test_a_source_that_cannot_be_opened_is_not_called_damaged(tmp_path: Path) -> None:
    """A dangling symlink among the sources is a file that cannot be read, not a corrupt image."""
    from bytenite_runtime.settings import partitioner_environment
    from bytenite_runtime.task import entrypoint_for

    source, chunks = tmp_path / "src", tmp_path / "chunks"
    source.mkdir()
    chunks.mkdir()
    (source / "a.png").write_bytes(encoded(noise_rgb(8, 8)))
    (source / "link.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(DataError) as caught:
        entrypoint_for("partitioner", "tile").invoke(
            partitioner_environment(source, chunks, {}, None)
        )
    assert str(caught.value) == "link.png: cannot be read (No such file or directory)"
    assert list(chunks.iterdir()) == []


def test_zero_tile_size_is_rejected_by_the_params_model(tmp_path: Path) -> None:
    """A tile size of 0 or less is a settings error naming the field."""
    message = _failing(tmp_path, {"a.png": encoded(noise_rgb(4, 4))}, tile_width=0)
    assert message == (
        "invalid settings (1 problem): PARTITIONER_PARAMS.tile_width: Input should be greater "
        "than or equal to 1 (got 0)"
    )


def test_tile_size_and_grid_together_are_rejected(tmp_path: Path) -> None:
    """Giving both a tile size and a grid is a settings error, not a guess."""
    message = _failing(tmp_path, {"a.png": encoded(noise_rgb(4, 4))}, tile_width=2, rows=2)
    assert "give a tile size (tile_width/tile_height) or a grid (rows/cols)" in message


def test_mode_the_format_cannot_hold_is_rejected(tmp_path: Path) -> None:
    """RGBA tiles asked as JPEG fail, naming the mode and the formats that hold it."""
    data = encoded(noise_rgb(8, 8).convert("RGBA"))
    message = _failing(tmp_path, {"a.png": data}, format="jpeg")
    assert message == "a.png: mode RGBA cannot be written as jpeg (use png, tiff, webp)"


@pytest.fixture
def decoding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the sources the partitioner decodes, in order."""
    names: list[str] = []
    load = codec.load

    def recording_load(image: Image.Image, name: str) -> None:
        names.append(name)
        load(image, name)

    monkeypatch.setattr(codec, "load", recording_load)
    return names


@pytest.mark.parametrize(
    ("odd", "keyed", "message"),
    [
        (noise_rgb(8, 8).convert("RGBA"), False, "mode RGBA cannot be written as jpeg"),
        (noise_rgb(8, 8).quantize(4), True, "mode P with transparency cannot be written as jpeg"),
        (Image.new("L", (8, 8)), True, "mode LA cannot be written as jpeg"),
    ],
)
def test_a_mode_the_format_cannot_hold_fails_before_any_source_is_decoded(
    tmp_path: Path, decoding: list[str], odd: Image.Image, keyed: bool, message: str
) -> None:
    """A later source in a mode the format cannot hold (alpha, a transparent index or a
    PNG's transparent grey) is found from its header while planning, so no earlier source
    is decoded and tiled in vain."""
    files = {
        "a.png": encoded(noise_rgb(64, 64)),
        "b.png": encoded(odd, **({"transparency": 1} if keyed else {})),
    }
    assert _failing(tmp_path, files, tile_width=16, format="jpeg") == (
        f"b.png: {message} (use png, tiff, webp)"
    )
    assert decoding == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            f"{'d' * 200}/{'p' * 200}.png",
            f"'{'d' * 32}…pppppppp.png': the mosaic of its tiles would be named "
            f"'{'d' * 32}…pppppppp.png', which is 405 bytes in UTF-8, over the 255-byte "
            "file-name limit; shorten or rename the source or its folders",
        ),
        (
            "a\nb.png",
            "'a\\nb.png': the mosaic of its tiles would be named 'a\\nb.png', which must be a "
            "plain file name, without control characters (found '\\n'); shorten or rename the "
            "source or its folders",
        ),
    ],
)
def test_a_source_whose_mosaic_output_name_is_no_file_name_fails_before_tiling(
    tmp_path: Path, decoding: list[str], source: str, message: str
) -> None:
    """A source whose folders and file name, joined as the mosaic names its output, make no
    file name (over 255 bytes, a newline) fails while planning, naming the source and the
    rule, instead of in the assembler after every task ran."""
    files = {"a.png": encoded(noise_rgb(64, 64)), source: encoded(noise_rgb(8, 8))}
    assert _failing(tmp_path, files, tile_width=16) == message
    assert decoding == []


def test_palette_with_transparency_is_not_flattened_into_jpeg(tmp_path: Path) -> None:
    """A palette image with a transparent index asked as JPEG fails like RGBA does, instead
    of losing its transparency silently."""
    image = noise_rgb(8, 8).quantize(4)
    data = encoded(image, transparency=1)
    message = _failing(tmp_path, {"a.png": data}, format="jpeg")
    assert (
        message == "a.png: mode P with transparency cannot be written as jpeg (use png, tiff, webp)"
    )
    assert len(_tiles({"a.png": encoded(image)}, format="jpeg")) == 1


def test_palette_with_transparency_keeps_it_in_tiff_tiles_and_mosaic() -> None:
    """A palette image with a transparent index tiled as TIFF (whose writer has no place for
    the index) gives RGBA tiles, and a TIFF mosaic of palette tiles keeps the alpha too."""
    image = noise_rgb(24, 16).quantize(4)
    data = encoded(image, transparency=1)
    expected = np.asarray(decoded(data).convert("RGBA"))
    assert (expected[..., 3] == 0).any()
    chunks = _tiles({"a.png": data}, tile_width=8, format="tiff")
    assert {decoded(c.data).mode for c in chunks} == {"RGBA"}
    results = {f"chunk-{i:06d}.tile.tif": c.data for i, c in enumerate(chunks)}
    out = decoded(run_assembler("mosaic", results)["a.png"])
    assert np.array_equal(np.asarray(out.convert("RGBA")), expected)
    png_chunks = _tiles({"a.png": data}, tile_width=8)
    png_results = {f"chunk-{i:06d}.tile.png": c.data for i, c in enumerate(png_chunks)}
    out = decoded(run_assembler("mosaic", png_results, {"format": "tiff"})["a.tif"])
    assert np.array_equal(np.asarray(out.convert("RGBA")), expected)


def test_big_endian_16_bit_grey_keeps_every_value() -> None:
    """A big-endian 16-bit TIFF (mode I;16B) gives I;16 tiles with the same values, not
    values clamped to 255 as Pillow's direct conversion does."""
    values = np.random.default_rng(0).integers(0, 65536, (9, 11), dtype=np.uint16)
    image = Image.frombytes("I;16B", (11, 9), values.astype(">u2").tobytes())
    (chunk,) = _tiles({"g.tif": encoded(image, "TIFF")}, tile_width=64, format="png")
    tile = decoded(chunk.data)
    assert tile.mode == "I;16" and np.array_equal(np.asarray(tile), values)


def test_padded_tiles_larger_than_max_pixels_are_rejected_before_decoding(tmp_path: Path) -> None:
    """'pad' makes every tile tile + 2 x overlap even on a tiny image, so that size is held
    to max_pixels too instead of allocating a huge tile."""
    message = _failing(
        tmp_path, {"a.png": encoded(noise_rgb(4, 4))}, tile_width=200, overlap=10, edge="pad",
        max_pixels=10_000,
    )  # fmt: skip
    assert message == (
        "a.png: padded tiles of 220x220 = 48400 pixels exceed max_pixels (10000); "
        "use a smaller tile_width/tile_height or overlap, or edge='shrink'"
    )


def _png_rgb48(width: int, height: int) -> bytes:
    """A 16-bit-a-channel RGB PNG, written by hand: Pillow cannot write one."""
    pixels = np.arange(width * height * 3, dtype=">u2").reshape(height, width * 3) * 257
    rows = b"".join(b"\0" + row.tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def test_what_pillow_reads_short_of_the_source_is_said_in_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """16-bit RGB (Pillow reads 8 bits of it) and CMYK (converted by formula) still tile,
    with a warning that the tiles are not the source's exact pixels; RGB says nothing."""
    cmyk = Image.new("CMYK", (40, 30), (10, 200, 30, 5))
    files = {
        "deep.png": _png_rgb48(40, 30),
        "print.jpg": encoded(cmyk, "JPEG"),
        "plain.png": encoded(noise_rgb(40, 30)),
    }
    assert Image.open(io.BytesIO(files["deep.png"])).mode == "RGB"
    chunks = _tiles(files, tile_width=20)
    assert len(chunks) == 12
    err = capsys.readouterr().err
    assert "deep.png: RGB at 16 bits a channel is read as 8-bit RGB (Pillow has no 16-bit " \
        "RGB): its tiles are not the source's exact pixels" in err  # fmt: skip
    assert "print.jpg: CMYK is converted to RGB by formula, without colour management" in err
    assert not [line for line in err.splitlines() if "WARNING" in line and "plain.png" in line]


def test_a_camera_jpeg_that_pillow_reads_as_mpo_stays_jpeg() -> None:
    """A JPEG with extra pictures after it (Pillow names it MPO, as many cameras write it)
    is tiled as JPEG with format='same', and its mosaic keeps its name."""
    image = noise_rgb(40, 30)
    data = encoded(image, "MPO", save_all=True, append_images=[image.resize((20, 15))])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    chunks = _tiles({"IMG_0001.JPG": data}, tile_width=16)
    for chunk in chunks:
        assert chunk.meta is not None
        assert chunk.meta.fields["format"] == chunk.meta.fields["source_format"] == "jpeg"
        assert decoded(chunk.data).format == "JPEG"
    results = {f"chunk-{i:06d}.tile.jpg": c.data for i, c in enumerate(chunks)}
    assert list(run_assembler("mosaic", results)) == ["IMG_0001.JPG"]


@pytest.mark.parametrize(("mode", "key"), [("RGB", (80, 80, 80)), ("L", 80)])
def test_a_png_transparent_colour_becomes_alpha_and_survives_the_mosaic(
    mode: str, key: Any
) -> None:
    """A PNG whose tRNS chunk makes one colour transparent is tiled with that colour as
    alpha (LA or RGBA), so the mosaic is the source's pixels and transparency exactly."""
    levels = np.random.default_rng(0).integers(0, 4, (30, 40, 3)) * 80
    source = Image.fromarray(levels.astype(np.uint8)).convert(mode)
    data = encoded(source, transparency=key)
    chunks = _tiles({"k.png": data}, tile_width=16)
    assert {c.meta.fields["mode"] for c in chunks if c.meta} == {
        mode[0] + "A" if mode == "L" else "RGBA"
    }
    results = {f"chunk-{i:06d}.tile.png": c.data for i, c in enumerate(chunks)}
    joined = decoded(run_assembler("mosaic", results)["k.png"])
    expected = decoded(data).convert("LA" if mode == "L" else "RGBA")
    assert joined.mode == expected.mode
    assert np.array_equal(np.asarray(joined), np.asarray(expected))


def test_only_the_first_frame_of_an_animation_is_tiled_and_a_warning_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An animated GIF gives tiles of its first frame only, with a warning naming the file
    and its frame count (a camera JPEG's preview pictures are not frames)."""
    frames = [Image.new("RGB", (32, 16), (80 * i, 0, 0)).convert("P") for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    chunks = _tiles({"anim.gif": out.getvalue()}, tile_width=16)
    assert len(chunks) == 2
    assert "anim.gif: only the first of its 3 frames/pages is tiled" in capsys.readouterr().err


def test_a_tiff_that_states_no_resolution_gives_tiles_and_a_mosaic_that_state_none() -> None:
    """Pillow reports 1 dpi for a TIFF without resolution tags; the tiles record no density
    and the mosaic states none, rather than a 1 dpi the source never claimed."""
    chunks = _tiles({"scan.tif": encoded(noise_rgb(40, 20), "TIFF")}, tile_width=16)
    assert all(c.meta is not None and c.meta.fields["dpi"] is None for c in chunks)
    results = {f"chunk-{i:06d}.tile.tif": c.data for i, c in enumerate(chunks)}
    out = run_assembler("mosaic", results, {"format": "jpeg"})
    assert "dpi" not in decoded(out["scan.jpg"]).info


def test_an_opaque_palette_image_gives_opaque_webp_tiles_that_join_as_jpeg() -> None:
    """A palette without a transparent index is tiled as RGB WebP, so padding adds no alpha
    and the mosaic of the opaque image can be written as JPEG."""
    source = noise_rgb(40, 27).quantize(16)
    params = {"tile_width": 16, "overlap": 2, "edge": "pad", "format": "webp", "lossless": True}
    chunks = _tiles({"a.gif": encoded(source, "GIF")}, **params)
    assert {c.meta.fields["mode"] for c in chunks if c.meta} == {"RGB"}
    results = {f"chunk-{i:06d}.tile.webp": c.data for i, c in enumerate(chunks)}
    joined = decoded(run_assembler("mosaic", results, {"format": "png"})["a.png"])
    assert np.array_equal(np.asarray(joined), np.asarray(source.convert("RGB")))
    assert decoded(run_assembler("mosaic", results, {"format": "jpeg"})["a.jpg"]).mode == "RGB"


def _half_float_tiff() -> bytes:
    """A sound TIFF of 16-bit float grey: Pillow's 32-bit float TIFF with its
    BitsPerSample entry set to 16."""
    data = bytearray(encoded(Image.new("F", (4, 3)), "TIFF"))
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd : ifd + 2])
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        if struct.unpack("<H", data[entry : entry + 2])[0] == 258:
            data[entry + 8 : entry + 10] = struct.pack("<H", 16)
    return bytes(data)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_a_tiff_whose_pixel_layout_pillow_does_not_read_is_not_called_damaged(
    tmp_path: Path,
) -> None:
    """A sound TIFF of a sample layout Pillow has no mode for (16-bit float) is named with
    that layout, not called corrupt or truncated; a TIFF cut in its IFD still is."""
    assert _failing(tmp_path, {"depth.tif": _half_float_tiff()}) == (
        "depth.tif: a TIFF of 1 sample of 16-bit float per pixel, a layout Pillow does not "
        "read; convert it first, e.g. to PNG"
    )
    (tmp_path / "cut").mkdir()
    cut = _failing(tmp_path / "cut", {"cut.tif": _half_float_tiff()[:20]})
    assert cut == "cut.tif: corrupt or truncated image (TIFF whose header Pillow cannot read)"
