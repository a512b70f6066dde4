"""CSV map: every row of the chunk gets a price_with_tax column.

The chunk is a plain CSV file with the header (the ``row`` partitioner repeats it in
every chunk), so the standard library's csv module reads it; quoted newlines and
commas arrive intact because the partitioner never cuts inside a record.
"""

import csv
import io

from pydantic import BaseModel, Field

from bytenite_runtime import task


class Params(BaseModel):
    tax_rate: float = Field(0.2, ge=0, le=1)


@task.app(params=Params)
def main(ctx: task.AppContext[Params]) -> None:
    reader = csv.DictReader(io.StringIO(ctx.chunk.read_text(), newline=""))
    fields = [*(reader.fieldnames or []), "price_with_tax"]
    with ctx.results.path("priced.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        rows = 0
        for row in reader:
            row["price_with_tax"] = f"{float(row['price']) * (1 + ctx.params.tax_rate):.2f}"
            writer.writerow(row)
            rows += 1
    ctx.log.info("priced %d rows (chunk rows %s)", rows, ctx.chunk.fields.get("rows"))


if __name__ == "__main__":
    main.run()
