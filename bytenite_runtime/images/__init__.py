"""Images: tiling, mosaics and the metadata slot every tile carries.

Importing this package is cheap: ``slots`` (metadata readers), ``grid`` (tile geometry),
``placement`` (where a result tile goes), ``formats`` (tile formats and pixel modes),
``naming`` (mosaic output names) and ``params`` (the params ``tile`` and ``mosaic``
share, pydantic types) are plain Python; ``codec`` (opening and encoding),
``header`` (orientation, density, subsampling), ``cutting`` (a tile cut and encoded),
``sniff``, ``tiles``, ``bands`` and ``pngstream`` import Pillow and numpy, and only the
components that need them import those.

For app authors, :mod:`bytenite_runtime.images.tiles` opens a tile chunk and saves the
processed tile with its metadata carried over, so the ``mosaic`` assembler can place it.
"""

DEFAULT_MAX_PIXELS = 16384 * 16384
"""The largest image (width x height) ``tile``, ``mosaic`` and ``open_tile`` accept by default."""
