"""Image-generation-shaped app: every task renders one image from the prompt and its seed.

A real app would run a diffusion model from SHARED_CACHE_DIR here; this one draws a
deterministic pattern so the whole pipeline (replicate-fanout -> app -> zipper) runs
anywhere. The task's chunk index is the seed, so every task draws a different image.
"""

import hashlib

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from bytenite_runtime import task


class Params(BaseModel):
    width: int = Field(256, ge=8, le=4096)
    height: int = Field(256, ge=8, le=4096)


@task.app(params=Params)
def main(ctx: task.AppContext[Params]) -> None:
    prompt = ctx.chunk.read_text().strip()
    seed = ctx.chunk.index if ctx.chunk.index is not None else 0
    digest = hashlib.sha256(f"{prompt}/{seed}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    y, x = np.mgrid[0 : ctx.params.height, 0 : ctx.params.width].astype(np.float32)
    freq = rng.uniform(0.01, 0.08, size=3)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    channels = [
        127.5 + 127.5 * np.sin(freq[i] * x + phase[i]) * np.cos(freq[(i + 1) % 3] * y)
        for i in range(3)
    ]
    pixels = np.stack(channels, axis=-1).astype(np.uint8)
    Image.fromarray(pixels, "RGB").save(ctx.results.path("image.png"))
    ctx.log.info(
        "rendered %dx%d image %s for %r", ctx.params.width, ctx.params.height, seed, prompt
    )


if __name__ == "__main__":
    main.run()
