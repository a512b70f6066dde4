"""The ``mosaic`` assembler: placement by metadata in any order, scale detection, crop and
feather, output formats, coverage checks and the README's bad-input rows for mosaics."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _failing import failing_assembly
from _pictures import decoded, encoded, noise_rgb
from PIL import Image, ImageFile, PngImagePlugin

from bytenite_runtime import DataError, task
from bytenite_runtime.chunks import ChunkMeta
from bytenite_runtime.images import codec, header
from bytenite_runtime.images.tiles import open_tile, save_tile
from bytenite_runtime.testing import PartitionedChunk, run_app, run_assembler, run_partitioner


def _tiles(image: Image.Image, name: str = "photo.png", **params: Any) -> list[PartitionedChunk]:
    return run_partitioner("tile", {name: encoded(image)}, params)


def _identity(chunks: list[PartitionedChunk], ext: str = "png") -> dict[str, bytes]:
    """What an identity app returns: each chunk's bytes as its result."""
    return {f"chunk-{i:06d}.tile.{ext}": c.data for i, c in enumerate(chunks)}


@task.app
def _double(ctx: task.AppContext[Any]) -> None:
    """A 2x 'super-resolution' app: nearest-neighbour upscaling of each tile."""
    tile = open_tile(ctx.chunk)
    save_tile(ctx, tile.resize((tile.width * 2, tile.height * 2), Image.Resampling.NEAREST))


@task.app
def _flat(ctx: task.AppContext[Any]) -> None:
    """Paints each tile one grey: 0 for chunk 0, 200 for the others."""
    tile = open_tile(ctx.chunk)
    save_tile(ctx, Image.new("L", tile.size, 0 if ctx.chunk.index == 0 else 200))


def _through(app: Any, chunks: list[PartitionedChunk], tmp_path: Path) -> dict[str, bytes]:
    results = {}
    for i, chunk in enumerate(chunks):
        run = run_app(app, chunk.data, chunk_number=None, tmp_path=tmp_path)
        for name, data in zip(run.raw_names, run.results.values(), strict=True):
            results[name] = data
        assert run.raw_names == (f"chunk-{i:06d}.tile.png",)
    return results


def test_tiles_in_any_order_and_with_platform_prefixes_give_the_source_back() -> None:
    """Placement comes from the metadata, so shuffled, prefixed result names change nothing."""
    source = noise_rgb(101, 77)
    results = list(_identity(_tiles(source, tile_width=32, overlap=5)).items())
    random.Random(1).shuffle(results)
    prefixed = {f"{i:04x}_{name}": data for i, (name, data) in enumerate(results)}
    out = run_assembler("mosaic", prefixed)
    assert list(out) == ["photo.png"]
    assert np.array_equal(np.asarray(decoded(out["photo.png"])), np.asarray(source))


def test_a_2x_app_is_detected_and_the_mosaic_is_twice_the_size(tmp_path: Path) -> None:
    """Tiles scaled 2x by the app (save_tile keeps their metadata) make a 2x mosaic, pixel
    for pixel what upscaling the whole image gives, padded and overlapping tiles included."""
    source = noise_rgb(45, 31)
    chunks = _tiles(source, tile_width=16, overlap=3, edge="pad", fill="edge")
    out = run_assembler("mosaic", _through(_double, chunks, tmp_path))
    expected = source.resize((90, 62), Image.Resampling.NEAREST)
    assert np.array_equal(np.asarray(decoded(out["photo.png"])), np.asarray(expected))


def test_feather_blends_overlaps_where_crop_leaves_a_step(tmp_path: Path) -> None:
    """Two flat tiles (0 and 200): 'crop' gives a hard edge, 'feather' a monotone ramp."""
    chunks = _tiles(Image.new("L", (40, 4)), tile_width=20, overlap=4)
    results = _through(_flat, chunks, tmp_path)
    cropped = np.asarray(decoded(run_assembler("mosaic", results)["photo.png"]))[0]
    feathered = np.asarray(
        decoded(run_assembler("mosaic", results, {"blend": "feather"})["photo.png"])
    )[0]
    assert list(cropped[18:22]) == [0, 0, 200, 200]
    assert np.all(np.diff(feathered.astype(int)) >= 0)
    assert feathered[15] == 0 and feathered[24] == 200 and 0 < feathered[19] < 200


def test_feather_with_an_identity_app_is_exact() -> None:
    """Blending identical overlaps gives the source back exactly."""
    source = noise_rgb(70, 50)
    results = _identity(_tiles(source, tile_width=24, overlap=6))
    out = run_assembler("mosaic", results, {"blend": "feather"})
    assert np.array_equal(np.asarray(decoded(out["photo.png"])), np.asarray(source))


def test_feather_finds_the_bands_reaching_a_row_among_its_neighbours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Feathering a tall grid does work per row bounded by the overlap, not by the number of
    rows (every band checked for every row took half an hour for 1 px tiles of 1x20000)."""
    from bytenite_runtime.images import bands

    source = noise_rgb(1, 300)
    results = _identity(_tiles(source, tile_width=1, overlap=2))
    calls = 0
    real = bands.to_out

    def counted(value: Any, scale: Any) -> int:
        nonlocal calls
        calls += 1
        return real(value, scale)

    monkeypatch.setattr(bands, "to_out", counted)
    out = run_assembler("mosaic", results, {"blend": "feather"})
    assert np.array_equal(np.asarray(decoded(out["photo.png"])), np.asarray(source))
    assert calls < 100 * 300  # measured: 145311 when every band was checked per row


def test_a_rational_scale_gives_the_scaled_size() -> None:
    """Tiles scaled 3/2 by the app (pad tiles, so every tile scales to whole pixels) make an
    output 3/2 the size of the source."""
    chunks = _tiles(noise_rgb(50, 30), tile_width=16, overlap=2, edge="pad")
    results = {}
    for i, chunk in enumerate(chunks):
        assert chunk.meta is not None
        tile = decoded(chunk.data)
        scaled = tile.resize((tile.width * 3 // 2, tile.height * 3 // 2))
        results[f"chunk-{i:06d}.tile.png"] = codec.encode(
            scaled, "png", quality=95, lossless=False, meta=chunk.meta
        )
    assert decoded(run_assembler("mosaic", results)["photo.png"]).size == (75, 45)


def test_output_format_changes_the_extension() -> None:
    """format='jpeg' writes photo.jpg from PNG tiles, with the quality asked for."""
    results = _identity(_tiles(noise_rgb(40, 40), tile_width=20))
    out = run_assembler("mosaic", results, {"format": "jpeg", "quality": 80})
    assert list(out) == ["photo.jpg"] and out["photo.jpg"].startswith(b"\xff\xd8")


def test_kept_orientation_goes_back_into_the_output() -> None:
    """With orientation='keep' the mosaic carries the source's EXIF orientation."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(noise_rgb(40, 20), "PNG", exif=exif.tobytes())
    chunks = run_partitioner("tile", {"p.png": data}, {"tile_width": 16, "orientation": "keep"})
    out = decoded(run_assembler("mosaic", _identity(chunks))["p.png"])
    assert out.size == (40, 20) and out.getexif().get(0x0112) == 6


def test_several_sources_and_result_names_give_one_output_each() -> None:
    """Tiles of two sources make two images; a second result name per tile a second output."""
    a = _tiles(noise_rgb(30, 20, 1), "a.png", tile_width=16)
    sources = {"a.png": encoded(noise_rgb(30, 20, 1)), "b.png": encoded(noise_rgb(8, 8))}
    b = run_partitioner("tile", sources, {"tile_width": 16})
    results = _identity(b)
    results.update({f"chunk-{i:06d}.mask.png": c.data for i, c in enumerate(a)})
    out = run_assembler("mosaic", results)
    assert sorted(out) == ["a-mask.png", "a-tile.png", "b.png"]


# -- bad input ---------------------------------------------------------------------------


def test_missing_tile_is_named_by_box_and_chunk(tmp_path: Path) -> None:
    """A tile that never came back fails the mosaic, naming its box and chunk."""
    results = _identity(_tiles(noise_rgb(64, 64), tile_width=32))
    del results["chunk-000002.tile.png"]
    assert failing_assembly(tmp_path, "mosaic", results) == (
        "mosaic 'photo.png': tile at box (0, 32)-(32, 64) missing (chunk 2)"
    )


def test_a_tile_saved_without_its_metadata_is_named_in_the_missing_tile_error(
    tmp_path: Path,
) -> None:
    """A result in a tile's place that is a sound image without tile metadata (saved with
    Pillow alone) is named in the one error line, not only in a warning before it."""
    results = _identity(_tiles(noise_rgb(64, 64), tile_width=32))
    results["chunk-000000.tile.png"] = encoded(decoded(results["chunk-000000.tile.png"]))
    assert failing_assembly(tmp_path, "mosaic", results) == (
        "mosaic 'photo.png': tile at box (0, 0)-(32, 32) missing (chunk 0: its result "
        "'chunk-000000.tile.png' carries no tile metadata; write tiles with "
        "bytenite_runtime.images.tiles.save_tile)"
    )


def test_a_tile_saved_under_another_name_is_named_in_the_missing_tile_error(
    tmp_path: Path,
) -> None:
    """A tile the app saved under another result name than the others (JPEG among PNG
    tiles) is named where its cell is reported missing, not left for the user to find."""
    chunks = _tiles(noise_rgb(64, 64), tile_width=32)
    results = _identity(chunks)
    del results["chunk-000001.tile.png"]
    assert chunks[1].meta is not None
    results["chunk-000001.tile.jpg"] = codec.encode(
        decoded(chunks[1].data), "jpeg", quality=95, lossless=False, meta=chunks[1].meta
    )
    assert failing_assembly(tmp_path, "mosaic", results) == (
        "mosaic 'photo.png': tile at box (32, 0)-(64, 32) missing (chunk 1: it returned "
        "'chunk-000001.tile.jpg' but no 'tile.png')"
    )


def test_duplicate_tile_is_named_with_both_results(tmp_path: Path) -> None:
    """Two results for one cell fail the mosaic, naming both."""
    results = _identity(_tiles(noise_rgb(64, 32), tile_width=32))
    results["chunk-000009.tile.png"] = results["chunk-000001.tile.png"]
    assert failing_assembly(tmp_path, "mosaic", results) == (
        "mosaic 'photo.png': tile at box (32, 0)-(64, 32) given twice (chunks 1 and 1: "
        "'chunk-000001.tile.png', 'chunk-000009.tile.png')"
    )


def test_tiles_of_different_images_under_one_name_are_rejected(tmp_path: Path) -> None:
    """Tiles claiming one source but giving different full sizes are not mixed silently."""
    results = _identity(_tiles(noise_rgb(64, 32), tile_width=32))
    other = _tiles(noise_rgb(64, 64), tile_width=32)
    results["chunk-000001.tile.png"] = other[1].data
    message = failing_assembly(tmp_path, "mosaic", results)
    assert message.startswith("mosaic 'photo.png': tile at box (32, 0)-(64, 32) (chunk 1, ")
    assert "has size [64, 64], but tile at box (0, 0)-(32, 32)" in message


def test_tiles_cut_with_different_overlaps_are_rejected(tmp_path: Path) -> None:
    """Tiles of one source recording different overlaps (results of two tile runs mixed) are
    refused naming the odd tile, rather than feathered with the first tile's ramps (a seam)."""
    source = noise_rgb(64, 32)
    results = _identity(_tiles(source, tile_width=32, overlap=8))
    results["chunk-000001.tile.png"] = _tiles(source, tile_width=32, overlap=4)[1].data
    for blend in ("crop", "feather"):
        (tmp_path / blend).mkdir()
        assert failing_assembly(tmp_path / blend, "mosaic", results, blend=blend) == (
            "mosaic 'photo.png': tile at box (32, 0)-(64, 32) (chunk 1, 'chunk-000001.tile.png') "
            "has overlap 4, but tile at box (0, 0)-(32, 32) (chunk 0, 'chunk-000000.tile.png') "
            "has 8"
        )


def test_tiles_with_kept_and_applied_orientation_are_rejected(tmp_path: Path) -> None:
    """Tiles of one source recording different orientations (one tile run kept the EXIF
    orientation, another applied it) are refused naming the odd tile, not joined upside down."""
    exif = Image.Exif()
    exif[0x0112] = 3
    data = encoded(noise_rgb(64, 32), "PNG", exif=exif.tobytes())
    kept = run_partitioner("tile", {"photo.png": data}, {"tile_width": 32, "orientation": "keep"})
    results = _identity(kept)
    applied = run_partitioner("tile", {"photo.png": data}, {"tile_width": 32})
    results["chunk-000001.tile.png"] = applied[1].data
    assert failing_assembly(tmp_path, "mosaic", results) == (
        "mosaic 'photo.png': tile at box (32, 0)-(64, 32) (chunk 1, 'chunk-000001.tile.png') "
        "has orientation 1, but tile at box (0, 0)-(32, 32) (chunk 0, 'chunk-000000.tile.png') "
        "has 3"
    )


def test_cropped_tile_is_rejected(tmp_path: Path) -> None:
    """A tile whose size fits no common scale (the app cropped it) is named."""
    chunks = _tiles(noise_rgb(64, 32), tile_width=32)
    results = _identity(chunks)
    small = decoded(chunks[1].data).crop((0, 0, 30, 32))
    assert chunks[1].meta is not None
    results["chunk-000001.tile.png"] = codec.encode(
        small, "png", quality=95, lossless=False, meta=chunks[1].meta
    )
    assert failing_assembly(tmp_path, "mosaic", results) == (
        "mosaic 'photo.png': tile at box (32, 0)-(64, 32) (chunk 1, 'chunk-000001.tile.png') is "
        "30x32, but the tiles are scaled 1 x 1 (expected 32x32 from its 32x32 chunk); the app "
        "must scale every tile alike and crop none"
    )


def test_a_tile_scaled_unlike_the_others_is_not_called_cropped(tmp_path: Path) -> None:
    """A tile the app scaled 2x among tiles it left alone is named with a message that asks
    for one scale, not one that blames cropping for a tile larger than its chunk."""
    chunks = _tiles(noise_rgb(64, 32), tile_width=32)
    results = _identity(chunks)
    tile = decoded(chunks[1].data)
    assert chunks[1].meta is not None
    results["chunk-000001.tile.png"] = codec.encode(
        tile.resize((64, 64)), "png", quality=95, lossless=False, meta=chunks[1].meta
    )
    assert failing_assembly(tmp_path, "mosaic", results) == (
        "mosaic 'photo.png': tile at box (32, 0)-(64, 32) (chunk 1, 'chunk-000001.tile.png') is "
        "64x64, but the tiles are scaled 1 x 1 (expected 32x32 from its 32x32 chunk); the app "
        "must scale every tile alike and crop none"
    )


def test_the_scale_most_tiles_agree_on_names_the_odd_first_tile(tmp_path: Path) -> None:
    """When the first of the largest tiles is the one the app scaled unlike the others, the
    scale is the one most tiles agree on, so the error names that tile, not a correct one."""
    chunks = _tiles(noise_rgb(96, 32), tile_width=32)
    results = _identity(chunks)
    assert chunks[0].meta is not None
    results["chunk-000000.tile.png"] = codec.encode(
        decoded(chunks[0].data).resize((64, 64)), "png", quality=95, lossless=False,
        meta=chunks[0].meta,
    )  # fmt: skip
    assert failing_assembly(tmp_path, "mosaic", results) == (
        "mosaic 'photo.png': tile at box (0, 0)-(32, 32) (chunk 0, 'chunk-000000.tile.png') is "
        "64x64, but the tiles are scaled 1 x 1 (expected 32x32 from its 32x32 chunk); the app "
        "must scale every tile alike and crop none"
    )


def test_results_without_tile_metadata_are_an_error(tmp_path: Path) -> None:
    """Plain images (an app that saved with Pillow alone) cannot be placed: a clear error."""
    message = failing_assembly(
        tmp_path, "mosaic", {"chunk-000000.tile.png": encoded(noise_rgb(8, 8))}
    )
    assert message == (
        "TASK_RESULTS_DIR: no result carries tile metadata (write tiles with "
        "bytenite_runtime.images.tiles.save_tile)"
    )


def test_corrupt_tile_names_the_result(tmp_path: Path) -> None:
    """A tile truncated after its header fails with a DataError naming the result."""
    results = _identity(_tiles(noise_rgb(64, 32), tile_width=32))
    data = results["chunk-000001.tile.png"]
    results["chunk-000001.tile.png"] = data[: len(data) - 200]
    message = failing_assembly(tmp_path, "mosaic", results)
    assert message.startswith("chunk-000001.tile.png (chunk 1): corrupt or truncated image (")


@pytest.mark.parametrize(
    ("cut", "reason"),
    [
        (lambda data: b"an app wrote this instead of a tile", "(its bytes are not PNG)"),
        (lambda data: data[:12], "(PNG whose header Pillow cannot read)"),
        (lambda data: data[:45], "(PNG whose header Pillow cannot read)"),  # in its text chunk
    ],
)
def test_a_damaged_tile_without_readable_metadata_is_named_not_reported_missing(
    tmp_path: Path, cut: Any, reason: str
) -> None:
    """Garbage, or a PNG cut before its metadata slot, where a tile should be is named as
    a corrupt or truncated result, not reported as a missing tile."""
    results = _identity(_tiles(noise_rgb(64, 32), tile_width=32))
    results["chunk-000001.tile.png"] = cut(results["chunk-000001.tile.png"])
    message = failing_assembly(tmp_path, "mosaic", results)
    assert message.startswith(
        f"chunk-000001.tile.png (chunk 1): corrupt or truncated image {reason}"
    )
    assert "missing" not in message


def test_the_only_tile_damaged_is_named_not_reported_as_carrying_no_metadata(
    tmp_path: Path,
) -> None:
    """When every result is damaged (a one-tile image), the damage is named, not the
    missing metadata."""
    message = failing_assembly(tmp_path, "mosaic", {"chunk-000000.tile.jpg": b"\xff\xd8\xff"})
    assert message == (
        "chunk-000000.tile.jpg (chunk 0): corrupt or truncated image "
        "(JPEG whose header Pillow cannot read)"
    )


def test_an_output_scaled_to_no_rows_is_rejected(tmp_path: Path) -> None:
    """Padded tiles of a 1 px high image that the app shrank 4x would make an output 0 rows
    high: an error naming the image and the scale, not a PNG that no reader opens."""
    results = {}
    for i, chunk in enumerate(_tiles(noise_rgb(8, 1), tile_width=4, edge="pad")):
        results[f"chunk-{i:06d}.tile.png"] = codec.encode(
            decoded(chunk.data).resize((1, 1)), "png", quality=95, lossless=False, meta=chunk.meta
        )
    assert failing_assembly(tmp_path, "mosaic", results) == (
        "mosaic 'photo.png': output 2x0 is empty: the 8x1 image at the app's scale 1/4 x 1/4"
    )


def test_output_over_max_pixels_is_rejected(tmp_path: Path) -> None:
    """The bomb guard applies to the output size too."""
    results = _identity(_tiles(noise_rgb(64, 32), tile_width=32))
    message = failing_assembly(tmp_path, "mosaic", results, max_pixels=2000)
    assert message == "mosaic 'photo.png': output 64x32 exceeds max_pixels (2000)"


def test_webp_tiles_that_lost_an_opaque_alpha_still_join() -> None:
    """libwebp stores a fully opaque RGBA tile without alpha (it decodes as RGB), so a
    mosaic of WebP tiles, some opaque and some not, is built as RGBA."""
    pixels = np.asarray(noise_rgb(32, 16).convert("RGBA")).copy()
    pixels[:, 16:, 3] = 100
    source = Image.fromarray(pixels)
    chunks = _tiles(source, tile_width=16, format="webp", lossless=True)
    assert [decoded(c.data).mode for c in chunks] == ["RGB", "RGBA"]
    out = decoded(
        run_assembler("mosaic", _identity(chunks, "webp"), {"format": "png"})["photo.png"]
    )
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out), pixels)


def test_sources_whose_output_names_collide_keep_their_extension() -> None:
    """photo.png and photo.jpg joined as PNG would both be photo.png: neither is overwritten,
    each colliding name keeps its source's extension."""
    files = {
        "photo.png": encoded(noise_rgb(20, 10, 1)),
        "photo.jpg": encoded(noise_rgb(30, 12, 2), "JPEG"),
    }
    chunks = run_partitioner("tile", files, {"tile_width": 16, "format": "png"})
    out = run_assembler("mosaic", _identity(chunks), {"format": "png"})
    assert {name: decoded(data).size for name, data in out.items()} == {
        "photo.jpg.png": (30, 12), "photo.png.png": (20, 10),
    }  # fmt: skip


def test_sources_that_flatten_to_one_output_name_are_an_error(tmp_path: Path) -> None:
    """Folders are flattened with '_', so x_y/p.png and x/y_p.png cannot both be written:
    a DataError naming both sources, never a silent overwrite."""
    files = {"x_y/p.png": encoded(noise_rgb(20, 10, 1)), "x/y_p.png": encoded(noise_rgb(30, 12, 2))}
    chunks = run_partitioner("tile", files, {"tile_width": 16})
    assert failing_assembly(tmp_path, "mosaic", _identity(chunks)) == (
        "mosaic: sources 'x/y_p.png' and 'x_y/p.png' would both be written as 'x_y_p.png.png'"
    )


def test_an_output_name_over_the_limit_fails_before_any_mosaic_is_built(tmp_path: Path) -> None:
    """An output name the file system refuses (a long source joined to a second result
    name, which the tile partitioner cannot foresee) is a DataError naming the source, not
    a settings error after the other sources' mosaics were built."""
    sources = {
        "photo.png": encoded(noise_rgb(32, 32)),
        "s" * 200 + ".png": encoded(noise_rgb(8, 8)),
    }
    chunks = run_partitioner("tile", sources, {"tile_width": 16})
    results = _identity(chunks)
    results[f"chunk-000004.{'m' * 100}.png"] = chunks[4].data
    assert failing_assembly(tmp_path, "mosaic", results) == (
        f"mosaic '{'s' * 32}…ssssssss.png': output name '{'s' * 32}…mmmmmmmm.png' is 305 "
        "bytes in UTF-8, over the 255-byte file-name limit"
    )


def _rewritten(chunks: list[PartitionedChunk], index: int, **fields: Any) -> dict[str, bytes]:
    """Identity results whose tile ``index`` claims ``fields`` in its metadata."""
    results = _identity(chunks)
    meta = chunks[index].meta
    assert meta is not None
    claimed = ChunkMeta(meta.index, meta.count, meta.source, {**meta.fields, **fields})
    results[f"chunk-{index:06d}.tile.png"] = codec.encode(
        decoded(chunks[index].data), "png", quality=95, lossless=False, meta=claimed
    )
    return results


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"tile_size": [0, 16]}, "tile_size [0, 16] must be positive"),
        ({"cell": [0, 16]}, "cell [0, 16] must be positive"),
        ({"box": [16, 0, 500, 16]},
         "box (16, 0)-(500, 16) is not inside the 32x16 image around its core (16, 0)-(32, 16)"),
        ({"offset": [4, 0]}, "offset [4, 0] puts box (16, 0)-(32, 16) outside its 16x16 tile"),
        ({"overlap": "2"}, "overlap '2' is not an integer >= 0"),
        ({"overlap": -1}, "overlap -1 is not an integer >= 0"),
        ({"orientation": 9}, "orientation 9 is not an EXIF orientation (1 to 8)"),
        ({"orientation": "x"}, "orientation 'x' is not an EXIF orientation (1 to 8)"),
    ],
)  # fmt: skip
def test_metadata_claiming_impossible_geometry_names_the_tile(
    tmp_path: Path, fields: dict[str, Any], reason: str
) -> None:
    """A tile whose metadata has a non-positive size, a box outside the image or its own
    file, or an overlap or orientation that is no such thing is a DataError naming that
    result, not a crash or a blamed neighbour."""
    results = _rewritten(_tiles(noise_rgb(32, 16), tile_width=16), 1, **fields)
    assert failing_assembly(tmp_path, "mosaic", results) == (
        f"chunk-000001.tile.png (chunk 1): tile metadata is not valid ({reason})"
    )


@pytest.mark.parametrize(
    ("member", "value", "reason"),
    [
        ("count", [2], "'count' is not an integer (got [2])"),
        ("source", 5, "'source' is not a string (got 5)"),
        ("fields", [1, 2], "'fields' is not an object (got [1, 2])"),
    ],
)
def test_tile_metadata_with_a_member_of_the_wrong_type_names_the_result(
    tmp_path: Path, member: str, value: object, reason: str
) -> None:
    """Tile metadata whose count, source or fields has the wrong JSON type (another tool
    wrote it) is a one-line DataError naming the result, not a traceback or a missing tile."""
    chunks = _tiles(noise_rgb(32, 16), tile_width=16)
    meta = chunks[0].meta
    assert meta is not None
    doc = {"v": 1, "index": 0, "count": 2, "source": "photo.png", "fields": dict(meta.fields)}
    info = PngImagePlugin.PngInfo()
    info.add_text("bytenite.chunk", json.dumps({**doc, member: value}))
    results = _identity(chunks)
    results["chunk-000000.tile.png"] = encoded(decoded(chunks[0].data), pnginfo=info)
    assert failing_assembly(tmp_path, "mosaic", results) == (
        f"chunk-000000.tile.png: metadata under 'bytenite.chunk' is not valid (chunk metadata's "
        f"{reason})"
    )


def test_palette_tiles_with_transparency_are_not_flattened_into_jpeg(tmp_path: Path) -> None:
    """A JPEG mosaic of palette tiles with a transparent index fails before the mosaic is
    built, naming the output, instead of losing the transparency."""
    data = encoded(noise_rgb(32, 16).quantize(4), transparency=1)
    chunks = run_partitioner("tile", {"photo.png": data}, {"tile_width": 16})
    assert failing_assembly(tmp_path, "mosaic", _identity(chunks), format="jpeg") == (
        "photo.jpg: mode P with transparency cannot be written as jpeg (use png, tiff, webp)"
    )


def _flat_tiles_scaled_3_2(overlap: int) -> dict[str, bytes]:
    """Results of an app scaling by 3/2 the 8 px tiles of a flat 29x17 image, whose odd
    widths end half a pixel short of the rounded output size."""
    source = Image.new("RGB", (29, 17), (200, 100, 50))
    results = {}
    for i, chunk in enumerate(_tiles(source, tile_width=8, overlap=overlap)):
        tile = decoded(chunk.data)
        scaled = tile.resize((tile.width * 3 // 2, tile.height * 3 // 2))
        results[f"chunk-{i:06d}.tile.png"] = codec.encode(
            scaled, "png", quality=95, lossless=False, meta=chunk.meta
        )
    return results


def test_a_rational_scale_with_fractional_edges_leaves_no_black_seam() -> None:
    """Shrink tiles of odd widths scaled 3/2 end half a pixel short of the rounded output
    size; the last column repeats its neighbour instead of staying black."""
    out = decoded(run_assembler("mosaic", _flat_tiles_scaled_3_2(overlap=3))["photo.png"])
    assert out.size == (44, 26)
    assert np.all(np.asarray(out) == (200, 100, 50))


@pytest.mark.parametrize("blend", ["crop", "feather"])
def test_edge_tiles_half_a_pixel_short_are_filled_when_feathering_too(blend: str) -> None:
    """Feathered like cropped, tiles whose box ends half a pixel short of its output span
    at scale 3/2 give their edge pixels there, not a black column (no tile's weight)."""
    results = _flat_tiles_scaled_3_2(overlap=2)
    out = decoded(run_assembler("mosaic", results, {"blend": blend})["photo.png"])
    assert out.size == (44, 25)
    assert np.all(np.asarray(out) == (200, 100, 50))


def test_one_sources_results_differing_only_in_extension_get_one_output_each() -> None:
    """An app writing tile.png and tile.webp per tile gets two outputs for the source, the
    second not overwriting the first."""
    chunks = _tiles(noise_rgb(20, 10), tile_width=16)
    results = _identity(chunks)
    results.update(_identity(chunks, "webp"))
    out = run_assembler("mosaic", results)
    assert sorted(out) == ["photo.png-tile.png.png", "photo.png-tile.webp.png"]


def test_a_source_whose_tiles_all_went_missing_is_an_error(tmp_path: Path) -> None:
    """Tiles record the job's chunk count, so a source image none of whose tiles came back
    fails the mosaic, naming the chunks, instead of vanishing from the output."""
    files = {"a.png": encoded(noise_rgb(32, 16, 1)), "b.png": encoded(noise_rgb(32, 16, 2))}
    chunks = run_partitioner("tile", files, {"tile_width": 16})
    results = {n: d for n, d in _identity(chunks).items() if not n.startswith("chunk-000002")}
    del results["chunk-000003.tile.png"]
    assert failing_assembly(tmp_path, "mosaic", results) == (
        "mosaic: no tile came back from chunks 2, 3 (of 4): a whole source image is missing"
    )


def test_save_tile_without_tile_metadata_names_the_chunk() -> None:
    """save_tile on a chunk that is a plain image (no tile metadata) fails naming the chunk."""
    with pytest.raises(DataError) as caught:
        run_app(_double, encoded(noise_rgb(8, 8)), chunk_number=3)
    assert str(caught.value) == (
        "chunk 3: carries no tile metadata (was it written by the 'tile' partitioner with "
        "chunk_metadata other than 'off'?)"
    )


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_the_sources_colour_profile_reaches_the_tiles_and_the_mosaic(fmt: str) -> None:
    """A JPEG photo's ICC profile (Display P3 on phones) is carried by its JPEG tiles and
    written into the mosaic, PNG streamed or not, so the colours display unchanged."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encoded(noise_rgb(40, 20), "JPEG", icc_profile=icc)
    chunks = run_partitioner("tile", {"photo.jpg": data}, {"tile_width": 16})
    assert all(decoded(c.data).info.get("icc_profile") == icc for c in chunks)
    out = run_assembler("mosaic", _identity(chunks, "jpg"), {"format": fmt})
    (image,) = (decoded(v) for v in out.values())
    assert image.info.get("icc_profile") == icc


@pytest.mark.parametrize(
    ("name", "pil", "fmt", "dpi"),
    [
        ("scan.png", "PNG", "png", (300.0, 300.0)),
        ("scan.tif", "TIFF", "tiff", (300.0, 150.0)),
        ("photo.jpg", "JPEG", "jpeg", (72.0, 96.0)),
        ("scan.png", "PNG", "jpeg", (300.0, 300.0)),
    ],
    ids=["png-streamed", "tiff", "jpeg", "png-to-jpeg"],
)
def test_the_sources_dpi_reaches_the_tiles_and_the_mosaic(
    name: str, pil: str, fmt: str, dpi: tuple[float, float]
) -> None:
    """A scan's density is carried by its tiles (file and metadata) and written into the
    mosaic, so it prints at the source's size."""
    chunks = run_partitioner(
        "tile", {name: encoded(noise_rgb(40, 20), pil, dpi=dpi)}, {"tile_width": 16}
    )
    assert all(c.meta is not None and c.meta.fields["dpi"] == list(dpi) for c in chunks)
    assert all(decoded(c.data).info["dpi"] == pytest.approx(dpi, abs=0.01) for c in chunks)
    out = run_assembler("mosaic", _identity(chunks, name.rsplit(".")[-1]), {"format": fmt})
    (image,) = (decoded(v) for v in out.values())
    assert image.info["dpi"] == pytest.approx(dpi, abs=0.01)


def test_a_2x_app_doubles_the_dpi_so_the_mosaic_prints_at_the_sources_size(
    tmp_path: Path,
) -> None:
    """Twice the pixels over the same paper: the mosaic of a 2x app states twice the density,
    and a source that states none gives a mosaic that states none."""
    chunks = run_partitioner(
        "tile", {"scan.png": encoded(noise_rgb(40, 20), "PNG", dpi=(150, 100))}, {"tile_width": 16}
    )
    out = run_assembler("mosaic", _through(_double, chunks, tmp_path))
    assert decoded(out["scan.png"]).info["dpi"] == pytest.approx((300, 200), abs=0.01)
    plain = _tiles(noise_rgb(40, 20), tile_width=16)
    assert all(c.meta is not None and c.meta.fields["dpi"] is None for c in plain)
    assert "dpi" not in decoded(run_assembler("mosaic", _identity(plain))["photo.png"]).info


@pytest.mark.parametrize(("fmt", "dpi"), [("png", 1e8), ("jpeg", 40000.0)])
def test_a_density_past_what_the_format_states_is_left_out_not_a_crash_or_wrapped(
    tmp_path: Path, fmt: str, dpi: float
) -> None:
    """A source density a 2x app doubles past what PNG (a 32-bit count per metre) or JPEG (a
    16-bit count per inch) can state is left out of the mosaic, as WebP leaves any out."""
    data = encoded(noise_rgb(40, 20), "TIFF", dpi=(dpi, dpi))
    chunks = run_partitioner("tile", {"scan.tif": data}, {"tile_width": 16, "format": "png"})
    out = run_assembler("mosaic", _through(_double, chunks, tmp_path), {"format": fmt})
    (image,) = (decoded(v) for v in out.values())
    assert image.size == (80, 40)
    assert "dpi" not in image.info


def test_a_quarter_turn_swaps_the_dpi_when_orientation_is_applied() -> None:
    """EXIF orientation 6 (a quarter turn) applied to the pixels swaps the density across and
    down; kept, the stored density stays."""
    exif = header.exif_bytes(6)
    data = encoded(noise_rgb(40, 20), "JPEG", dpi=(72, 96), exif=exif)
    applied = run_partitioner("tile", {"p.jpg": data}, {"tile_width": 16})
    assert applied[0].meta is not None and applied[0].meta.fields["dpi"] == [96.0, 72.0]
    kept = run_partitioner("tile", {"p.jpg": data}, {"tile_width": 16, "orientation": "keep"})
    assert kept[0].meta is not None and kept[0].meta.fields["dpi"] == [72.0, 96.0]
    out = run_assembler("mosaic", _identity(applied, "jpg"))
    assert decoded(out["p.jpg"]).info["dpi"] == pytest.approx((96, 72), abs=0.01)


def test_decoding_tiles_on_threads_leaves_pillows_own_limit_alone() -> None:
    """Tiles are opened on several threads; Pillow's global MAX_IMAGE_PIXELS, which each
    open lifts for our own limit, is the same afterwards (no thread restores another's)."""
    results = _identity(_tiles(noise_rgb(96, 96), tile_width=6))
    before = Image.MAX_IMAGE_PIXELS
    try:
        for _ in range(3):
            run_assembler("mosaic", results, {"workers": 8})
            assert before == Image.MAX_IMAGE_PIXELS
    finally:
        Image.MAX_IMAGE_PIXELS = before


def test_a_truncated_tile_fails_on_threads_even_when_pillow_is_lenient(tmp_path: Path) -> None:
    """With Pillow's process-wide LOAD_TRUNCATED_IMAGES turned on by someone else, a cut
    tile still fails on the decoding threads, and the setting is on again afterwards."""
    results = _identity(_tiles(noise_rgb(96, 96), tile_width=6))
    name = sorted(results)[5]
    results[name] = results[name][:-60]  # into the pixel data; the slot comes before it
    try:
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        for attempt in range(3):
            (folder := tmp_path / str(attempt)).mkdir()
            message = failing_assembly(folder, "mosaic", results, workers=8)
            assert "corrupt or truncated" in message
            assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def test_a_source_named_by_an_absolute_or_windows_path_still_gets_a_plain_output_name() -> None:
    """Metadata written by another tool may name its source '/data/photo.png' or
    'C:\\\\in\\\\photo.png'; the output is still one plain file name, not a settings error."""
    chunks = _tiles(noise_rgb(8, 8), tile_width=8)
    names = []
    for source in ("/data/photo.png", "C:\\in\\photo.png"):
        meta = chunks[0].meta
        assert meta is not None
        claimed = ChunkMeta(0, 1, source, meta.fields)
        result = codec.encode(noise_rgb(8, 8), "png", quality=95, lossless=False, meta=claimed)
        names += list(run_assembler("mosaic", {"chunk-000000.tile.png": result}))
    assert names == ["data_photo.png", "C:_in_photo.png"]


@task.app
def _requantize(ctx: task.AppContext[Any]) -> None:
    """A palette app: each tile quantised to 16 colours of its own palette."""
    save_tile(ctx, open_tile(ctx.chunk).convert("RGB").quantize(16))


def test_palette_tiles_each_with_its_own_palette_keep_their_colours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Tiles whose palettes differ (an app quantised each one) are joined in RGB, each
    tile's pixels through its own palette, with a warning; not as indices of the first's."""
    rng = np.random.default_rng(10)
    pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    source = Image.fromarray(pixels).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    results = _through(_requantize, _tiles(source, tile_width=20), tmp_path)
    joined = decoded(run_assembler("mosaic", results)["photo.png"])
    assert joined.mode == "RGB"
    expected = np.zeros((40, 40, 3), dtype=np.uint8)
    for i, name in enumerate(sorted(results)):
        row, col = divmod(i, 2)
        tile = np.asarray(decoded(results[name]).convert("RGB"))
        expected[row * 20 : (row + 1) * 20, col * 20 : (col + 1) * 20] = tile
    assert np.array_equal(np.asarray(joined), expected)
    assert "the tiles' palettes differ: joined as RGB" in capsys.readouterr().err


def test_lossless_webp_keeps_the_colour_under_transparent_pixels() -> None:
    """WebP tiles and mosaic with lossless=true are pixel-exact even where alpha is 0
    (libwebp rewrites those colours unless told to keep them exact)."""
    pixels = np.asarray(noise_rgb(40, 30).convert("RGBA")).copy()
    pixels[:10, :, 3] = 0
    chunks = _tiles(Image.fromarray(pixels), tile_width=16, format="webp", lossless=True)
    for chunk in chunks:
        assert decoded(chunk.data).format == "WEBP"
    joined = run_assembler(
        "mosaic", _identity(chunks, "webp"), {"format": "webp", "lossless": True}
    )
    assert np.array_equal(np.asarray(decoded(joined["photo.webp"])), pixels)


@task.app
def _threshold(ctx: task.AppContext[Any]) -> None:
    """A binarising app (a document scanner's): each tile saved in Pillow's 1-bit mode."""
    save_tile(ctx, open_tile(ctx.chunk).convert("1", dither=Image.Dither.NONE))


def test_save_tile_writes_a_1_bit_tile_as_grey_and_the_mosaic_joins_it(tmp_path: Path) -> None:
    """save_tile brings a 1-bit tile to L, as the partitioner brings a 1-bit source."""
    source = noise_rgb(40, 24).convert("L")
    results = _through(_threshold, _tiles(source, tile_width=16, overlap=2), tmp_path)
    joined = decoded(run_assembler("mosaic", results)["photo.png"])
    assert joined.mode == "L"
    expected = source.convert("1", dither=Image.Dither.NONE).convert("L")
    assert np.array_equal(np.asarray(joined), np.asarray(expected))


@pytest.mark.parametrize("mode", ["1", "I;16B"])
def test_tiles_another_tool_wrote_in_a_mode_pillow_opens_as_is_are_joined(mode: str) -> None:
    """Result tiles in 1-bit (PNG) or big-endian 16-bit grey (TIFF), written by a tool
    other than save_tile but carrying the metadata, join like L and I;16 tiles, every
    value kept."""
    rng = np.random.default_rng(11)
    if mode == "1":
        source = Image.fromarray(rng.integers(0, 2, (24, 40), dtype=np.uint8) * 255)
        chunks = _tiles(source, tile_width=16, overlap=2)
    else:
        source = Image.fromarray(rng.integers(0, 65536, (24, 40), dtype=np.uint16))
        chunks = _tiles(source, tile_width=16, overlap=2, format="tiff")
    results = {}
    for i, chunk in enumerate(chunks):
        tile = decoded(chunk.data)
        if mode == "1":
            data = encoded(tile.convert("1"), pnginfo=_text_of(tile))
        else:
            raw = np.asarray(tile).astype(">u2").tobytes()
            big_endian = Image.frombytes("I;16B", tile.size, raw)
            data = encoded(big_endian, "TIFF", description=tile.tag_v2[270])
        assert decoded(data).mode == mode
        results[f"chunk-{i:06d}.tile.{'png' if mode == '1' else 'tif'}"] = data
    (joined,) = run_assembler("mosaic", results).values()
    assert np.array_equal(np.asarray(decoded(joined)), np.asarray(source))


def _text_of(image: Image.Image) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    for key, value in image.text.items():  # type: ignore[attr-defined]
        info.add_text(key, value)
    return info


@task.app
def _to_float(ctx: task.AppContext[Any]) -> None:
    """An app that returns its numpy float result as it is: a mode F tile."""
    save_tile(ctx, Image.fromarray(np.asarray(open_tile(ctx.chunk), dtype=np.float32)))


def test_save_tile_names_a_mode_no_format_can_hold_and_the_modes_that_can() -> None:
    """A float (mode F) tile is a DataError listing the supported modes, not '(use )'."""
    chunk = _tiles(Image.new("L", (8, 8)), tile_width=8)[0]
    with pytest.raises(DataError) as caught:
        run_app(_to_float, chunk.data)
    assert str(caught.value) == (
        "tile.png: mode F is not supported (supported: L, LA, RGB, RGBA, I;16, P)"
    )


@task.app
def _keep(ctx: task.AppContext[Any]) -> None:
    """An identity app that re-saves each tile with save_tile (as JPEG, the chunk's format)."""
    save_tile(ctx, open_tile(ctx.chunk))


@pytest.mark.parametrize("subsampling", [0, 1, 2])
def test_a_jpegs_chroma_subsampling_is_kept_by_tiles_save_tile_and_mosaic(
    subsampling: int, tmp_path: Path
) -> None:
    """A 4:4:4 or 4:2:2 JPEG source keeps its chroma subsampling in its tiles, the app's
    saved tiles and the mosaic, instead of Pillow's default 4:2:0."""
    from PIL import JpegImagePlugin

    def sampling(data: bytes) -> int:
        return JpegImagePlugin.get_sampling(decoded(data))

    source = encoded(noise_rgb(40, 24), "JPEG", quality=95, subsampling=subsampling)
    chunks = run_partitioner("tile", {"photo.jpg": source}, {"tile_width": 16})
    assert {sampling(chunk.data) for chunk in chunks} == {subsampling}
    results = {}
    for i, chunk in enumerate(chunks):
        run = run_app(_keep, chunk.data, chunk_number=None, tmp_path=tmp_path)
        (results[f"chunk-{i:06d}.tile.jpg"],) = run.results.values()
    assert {sampling(data) for data in results.values()} == {subsampling}
    assert sampling(run_assembler("mosaic", results)["photo.jpg"]) == subsampling


@task.app
def _to_jpeg(ctx: task.AppContext[Any]) -> None:
    """An identity app that saves each (PNG) tile as a JPEG result."""
    save_tile(ctx, open_tile(ctx.chunk), "tile.jpg")


@pytest.mark.parametrize("subsampling", [0, 1])
def test_a_jpegs_chroma_subsampling_survives_png_tiles_into_a_jpeg_mosaic(
    subsampling: int, tmp_path: Path
) -> None:
    """PNG tiles of a 4:4:4 or 4:2:2 JPEG record its subsampling, and a JPEG mosaic of
    them, or a JPEG result save_tile writes from one, has it instead of Pillow's 4:2:0."""
    from PIL import JpegImagePlugin

    def sampling(data: bytes) -> int:
        return JpegImagePlugin.get_sampling(decoded(data))

    source = encoded(noise_rgb(40, 24), "JPEG", quality=95, subsampling=subsampling)
    chunks = run_partitioner("tile", {"photo.jpg": source}, {"tile_width": 16, "format": "png"})
    named = header.SUBSAMPLINGS[subsampling]
    assert all(c.meta is not None and c.meta.fields["subsampling"] == named for c in chunks)
    assert sampling(run_assembler("mosaic", _identity(chunks))["photo.jpg"]) == subsampling
    run = run_app(_to_jpeg, chunks[0].data, chunk_number=None, tmp_path=tmp_path)
    assert [sampling(data) for data in run.results.values()] == [subsampling]


def test_a_png_sources_tiles_record_no_subsampling() -> None:
    """Only a JPEG source has a chroma subsampling to record: other tiles say null."""
    chunks = _tiles(noise_rgb(20, 20), tile_width=16)
    assert {c.meta.fields["subsampling"] for c in chunks if c.meta is not None} == {None}


def test_a_16_bit_grey_pngs_transparent_value_survives_the_mosaic() -> None:
    """A 16-bit grey PNG's transparent value (tRNS; Pillow has no 16-bit LA to turn it
    into alpha) is kept by the tiles and written into the mosaic, not dropped."""
    pixels = np.random.default_rng(12).integers(0, 65536, (24, 40), dtype=np.uint16)
    pixels[:6] = 1234
    source = encoded(Image.fromarray(pixels), transparency=1234)
    chunks = run_partitioner("tile", {"depth.png": source}, {"tile_width": 16, "overlap": 2})
    joined = decoded(run_assembler("mosaic", _identity(chunks))["depth.png"])
    assert joined.mode == "I;16"
    assert joined.info.get("transparency") == 1234
    assert np.array_equal(np.asarray(joined), pixels)


def _cmyk_profile() -> bytes:
    """An ICC profile whose header names CMYK as its colour space."""
    from PIL import ImageCms

    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[16:20] = b"CMYK"
    return bytes(icc)


@task.app
def _to_cmyk(ctx: task.AppContext[Any]) -> None:
    """A print app: each tile converted to CMYK and tagged with a CMYK profile."""
    tile = open_tile(ctx.chunk).convert("CMYK")
    tile.info["icc_profile"] = _cmyk_profile()
    save_tile(ctx, tile)


def test_save_tile_drops_a_cmyk_profile_from_the_rgb_tile_it_writes(tmp_path: Path) -> None:
    """save_tile writes a CMYK tile as RGB, so its CMYK profile, which would misdescribe
    those pixels, is left out of the tile and the mosaic, as tile leaves a source's out."""
    results = _through(_to_cmyk, _tiles(noise_rgb(40, 24), tile_width=16), tmp_path)
    assert all(decoded(data).info.get("icc_profile") is None for data in results.values())
    (joined,) = run_assembler("mosaic", results).values()
    assert decoded(joined).mode == "RGB" and decoded(joined).info.get("icc_profile") is None


def test_cmyk_tiles_another_tool_wrote_give_a_mosaic_without_their_cmyk_profile() -> None:
    """CMYK JPEG tiles with a CMYK profile, written by a tool other than save_tile, are
    joined as RGB without that profile, which would misdescribe the RGB pixels."""
    chunks = _tiles(noise_rgb(40, 24), "photo.jpg", tile_width=16, format="jpeg")
    results = {}
    for i, chunk in enumerate(chunks):
        tile = decoded(chunk.data)
        comment = tile.info["comment"]
        data = encoded(tile.convert("CMYK"), "JPEG", comment=comment, icc_profile=_cmyk_profile())
        results[f"chunk-{i:06d}.tile.jpg"] = data
    (joined,) = run_assembler("mosaic", results, {"format": "png"}).values()
    assert decoded(joined).mode == "RGB" and decoded(joined).info.get("icc_profile") is None


@task.app
def _inverted_array(ctx: task.AppContext[Any]) -> None:
    """A model-style app: its result is a new image built from a numpy array."""
    save_tile(ctx, Image.fromarray(255 - np.asarray(open_tile(ctx.chunk))))


@task.app
def _profile_removed(ctx: task.AppContext[Any]) -> None:
    """An app that asks for no colour profile in its result."""
    tile = open_tile(ctx.chunk)
    tile.info["icc_profile"] = b""
    save_tile(ctx, tile)


def test_a_result_built_from_a_numpy_array_keeps_the_chunks_colour_profile(
    tmp_path: Path,
) -> None:
    """An image made anew from an array has no profile, but its pixels are in the chunk's
    colour space: save_tile writes the chunk's profile, so the mosaic keeps the source's,
    unless the app set an empty one."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encoded(noise_rgb(40, 20), "JPEG", icc_profile=icc)
    chunks = run_partitioner("tile", {"photo.jpg": data}, {"tile_width": 16, "format": "png"})
    out = run_assembler("mosaic", _through(_inverted_array, chunks, tmp_path))
    assert decoded(out["photo.jpg"]).info.get("icc_profile") == icc
    out = run_assembler("mosaic", _through(_profile_removed, chunks, tmp_path))
    assert not decoded(out["photo.jpg"]).info.get("icc_profile")
