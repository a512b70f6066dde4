"""Image tiles: every task blurs one tile; the mosaic joins them without a seam.

The ``tile`` partitioner gives each tile 8 pixels of its neighbours on every side
(``overlap``) and pads the tiles at the image's edges by repeating the edge pixels
(``edge: pad``, ``fill: edge``), which is what a blur sees at the border of the whole
image. A Gaussian blur of radius 2 reaches less than 8 pixels, so once the ``mosaic``
assembler crops every tile back to its own cell the result is the blur of the whole
image, pixel for pixel, away from its border. At the border too for this photo, though
not for every image: Pillow's Gaussian blur clamps at the border in each of its three
box passes, which padding once does not always match (a noisy image differs there by a
few levels). ``save_tile`` keeps the chunk's tile metadata in the result, which is how
the mosaic knows where each tile goes.
"""

from PIL import ImageFilter
from pydantic import BaseModel, Field

from bytenite_runtime import task
from bytenite_runtime.images.tiles import open_tile, save_tile


class Params(BaseModel):
    radius: float = Field(2, ge=0, le=8)


@task.app(params=Params)
def main(ctx: task.AppContext[Params]) -> None:
    tile = open_tile(ctx.chunk)
    save_tile(ctx, tile.filter(ImageFilter.GaussianBlur(ctx.params.radius)))
    ctx.log.info("blurred tile at box %s of %s", ctx.chunk.fields.get("core"), ctx.chunk.source)


if __name__ == "__main__":
    main.run()
