"""Hello world from the ByteNite docs: change the case of the text in the chunk."""

from typing import Literal

from pydantic import BaseModel

from bytenite_runtime import task


class Params(BaseModel):
    case: Literal["upper", "lower", "title"] = "upper"


@task.app(params=Params)
def main(ctx: task.AppContext[Params]) -> None:
    text = ctx.chunk.read_text()
    converted = {"upper": str.upper, "lower": str.lower, "title": str.title}[ctx.params.case](text)
    ctx.results.write_text("hello_world_processed.txt", converted)
    ctx.log.info("converted %d characters to %s case", len(text), ctx.params.case)


if __name__ == "__main__":
    main.run()
