"""The table the ``tables`` benchmark cuts: a CSV that trips newline-aligned splitters.

Rows look like an export of customer notes: a quoted "Last, First" name (a delimiter
inside quotes), a city (now and then with accents or CJK, so UTF-8 checks do real
work), and a free-text comment that is quoted when it holds commas, doubled quotes or
line breaks (LF and CRLF). About one row in six spans several lines.

Generating 1 GiB row by row in Python would take a minute, so a pool of distinct rows
is shuffled into a few units, and units are written in a random order until the size is
reached: the data repeats, but never in a period a block-wise scan could exploit.
"""

from __future__ import annotations

import random
from pathlib import Path

__all__ = ["HEADER", "generate"]

HEADER = b"id,name,city,comment,amount,date\n"
_POOL = 40_000
_UNITS = 8
_FIRST = ("Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Grace", "Hiro", "Ines", "Jonas")
_LAST = ("Smith", "Müller", "Garcia", "Tanaka", "Rossi", "Novak", "Dubois", "Silva", "Berg")
_CITIES = ("Berlin", "Paris", "Austin", "Lyon", "Osaka", "Porto", "Oslo", "Denver", "Leeds")
_RARE_CITIES = ("Zürich", "São Paulo", "Kraków", "東京", "Malmö")
_WORDS = (
    "order", "late", "refund", "call", "back", "asked", "about", "invoice", "the", "box",
    "was", "damaged", "needs", "review", "ok", "thanks", "again", "customer", "said", "fine",
)  # fmt: skip


def _comment(rng: random.Random) -> bytes:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 18))]
    roll = rng.random()
    if roll < 0.12:
        words.insert(rng.randrange(len(words)), '"urgent"')
    if roll > 0.85:
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randrange(1, len(words)), rng.choice(("\n", "\r\n")))
    if 0.3 < roll < 0.55:
        words.insert(rng.randrange(len(words)), "then,")
    text = " ".join(words)
    if any(c in text for c in ',"\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text.encode()


def _row(rng: random.Random, number: int) -> bytes:
    name = f'"{rng.choice(_LAST)}, {rng.choice(_FIRST)}"'
    city = rng.choice(_RARE_CITIES) if rng.random() < 0.05 else rng.choice(_CITIES)
    amount = f"{rng.uniform(1, 5000):.2f}"
    date = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    head = f"{number},{name},{city},".encode()
    return head + _comment(rng) + f",{amount},{date}\n".encode()


def generate(path: Path, size: int, seed: int = 11) -> int:
    """Write a CSV of about ``size`` bytes (whole units, at least one) to ``path``;
    return its number of data rows."""
    rng = random.Random(seed)
    pool = [_row(rng, i) for i in range(_POOL)]
    units = []
    for _ in range(_UNITS):
        rng.shuffle(pool)
        units.append(b"".join(pool))
    rows = 0
    with path.open("wb") as out:
        out.write(HEADER)
        written = len(HEADER)
        while written < size or not rows:
            unit = units[rng.randrange(_UNITS)]
            out.write(unit)
            written += len(unit)
            rows += _POOL
    return rows
