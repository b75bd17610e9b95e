r"""Synthetic Amazon-M2 task-1 files in the official layout, at any scale, for benchmarks.

    python bench/m2_synthetic.py --sessions 1400000 --products 500000 --seed 0 --output_dir DIR

writes ``DIR/sessions_train.csv`` (``prev_items,next_item,locale``; ``prev_items`` is numpy's ``str()`` of the id
array, wrapped at 75 characters as in the official file) and ``DIR/products_train.csv``
(``id,locale,title,price,brand,color,size,model,material,author,desc``), one locale (``--locale``, UK by default).
The UK locale of the real files has 1,182,181 training sessions and 500,180 products.

Distributions (the defaults):

* product popularity: Zipf over popularity ranks, P(rank r) proportional to r^-0.8 for r = 1..products (a
  truncated power law, drawn by inverse CDF): with 500,000 products the top 1 % of the ranks get 36 % of the fresh
  draws. Ranks map to product rows by a seeded permutation, so popular products are spread over the products file.
* prefix length (``prev_items``): ceil(X), X lognormal with mu = 0.9, sigma = 0.9 (on the log scale), capped at
  250: mean 4.18, median 3, 90th percentile 8, 99th percentile 20, 16 % of prefixes hold one item. The paper
  reports an average length of 4.12 for M2 UK. A session is its prefix plus ``next_item``.
* locality: every item after a session's first is, with probability 0.3, a neighbour of the item before it
  (product row +- 1..10), otherwise a fresh popularity draw; repeats within a session happen only by chance.

At 1,400,000 sessions and 500,000 products (seed 0) this gives 7.25 M item occurrences; the top 1 % of the
products hold 29 % of them, 99.7 % of the products occur (the real UK file: 499,611 of 500,180), and 610 prefixes
are longer than the converter's 49 items.
* product ids: ``B0`` + 8 base-36 characters (digits and capitals), an affine bijection of the row number, so ids
  are unique and look like ASINs. Texts come from small word lists; prices are lognormal around 15.

The same seed gives the same bytes; products depend only on ``--seed``, ``--products`` and ``--locale``. Sessions
are drawn and written 65,536 at a time, so memory grows with the products but not with the sessions; each file is
written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from tqdm import tqdm

from recbole_semsr.config import positive_int

SESSION_HEADER = ("prev_items", "next_item", "locale")
PRODUCT_HEADER = ("id", "locale", "title", "price", "brand", "color", "size", "model", "material", "author", "desc")
SESSIONS_FILE = "sessions_train.csv"
PRODUCTS_FILE = "products_train.csv"
CHUNK = 65_536
BASE36 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
NUMPY_WRAP_WIDTH = 74  # numpy's line width, 75, less one for the closing bracket

ADJECTIVES = ("Compact", "Classic", "Portable", "Premium", "Wireless", "Stainless", "Organic", "Soft", "Heavy-Duty",
              "Foldable", "Rechargeable", "Waterproof", "Vintage", "Ergonomic", "Lightweight", "Adjustable")
NOUNS = ("Kettle", "Mug", "Phone Case", "Backpack", "Desk Lamp", "Yoga Mat", "Water Bottle", "Headphones",
         "Notebook", "Charging Cable", "Throw Pillow", "Chef Knife", "Dog Lead", "Garden Hose", "Board Game",
         "Running Shoes", "Face Cream", "Screwdriver Set", "Picture Frame", "Paperback Novel")
BOOK = "Paperback Novel"
COLOURS = ("Black", "White", "Red", "Blue", "Green", "Grey", "Pink", "Silver", "Beige", "")
MATERIALS = ("Plastic", "Cotton", "Stainless Steel", "Wood", "Glass", "Polyester", "Leather", "")
SIZES = ("S", "M", "L", "XL", "500 ml", "1 l", "30 x 20 cm", "Pack of 2", "")
SYLLABLES = ("ka", "lo", "mi", "ra", "ten", "vo", "zu", "bel", "cor", "dan", "fi", "gro", "hex", "jun", "mar", "nor")
FIRST_NAMES = ("Ann", "Ben", "Clara", "David", "Emma", "Farid", "Grace", "Hugo", "Isla", "Jonas")
LAST_NAMES = ("Archer", "Baker", "Carter", "Dawson", "Ellis", "Fischer", "Gupta", "Hughes", "Iqbal", "Jones")


@dataclass(frozen=True)
class Distributions:
    """The stated distributions (module docstring)."""

    zipf_exponent: float = 0.8
    length_mu: float = 0.9
    length_sigma: float = 0.9
    max_prefix: int = 250
    locality: float = 0.3
    neighbourhood: int = 10


def product_ids(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` unique ASIN-like ids: ``B0`` + base-36 of (a * k + b) mod 36^8 (a coprime to 36) for k a seeded
    permutation of the rows."""
    modulus = 36 ** 8
    multiplier = 6 * int(rng.integers(10 ** 8, 3 * 10 ** 8)) + 1
    offset = int(rng.integers(0, modulus))
    values = (rng.permutation(count).astype(np.int64) * multiplier + offset) % modulus
    digits = (values[:, None] // (36 ** np.arange(7, -1, -1, dtype=np.int64))) % 36
    return ["B0" + code for code in BASE36[digits].view("S8").ravel().astype(str)]


def numpy_list_text(words: Sequence[str]) -> str:
    """``str(numpy.array(words))`` for up to 1,000 string ``words`` (numpy summarises longer arrays), built
    directly: numpy wraps before a word that would end past column 74."""
    lines, line = [], "["
    for word in words:
        quoted = f"'{word}'"
        if len(line) + len(quoted) > NUMPY_WRAP_WIDTH and len(line) > 1:
            lines.append(line.rstrip())
            line = " "
        line += quoted + " "
    return "\n".join([*lines, line.rstrip() + "]"])


def popularity_cdf(products: int, exponent: float) -> np.ndarray:
    """Cumulative P(rank <= r) of the truncated power law r^-exponent over ranks 1..products."""
    weights = np.arange(1, products + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def prefix_lengths(count: int, rng: np.random.Generator, dist: Distributions) -> np.ndarray:
    """Prefix lengths: ceil of a lognormal, at least 1, capped at ``max_prefix``."""
    lengths = np.ceil(rng.lognormal(dist.length_mu, dist.length_sigma, count))
    return np.clip(lengths, 1, dist.max_prefix).astype(np.int64)


def session_rows(lengths: np.ndarray, cdf: np.ndarray, rank_to_row: np.ndarray, rng: np.random.Generator,
                 dist: Distributions) -> np.ndarray:
    """Product rows of concatenated sessions of ``lengths`` items: fresh popularity draws, or with probability
    ``locality`` a step of +-1..``neighbourhood`` rows from the item before (never across sessions)."""
    total = int(lengths.sum())
    products = len(rank_to_row)
    fresh = rank_to_row[np.minimum(np.searchsorted(cdf, rng.random(total), side="right"), products - 1)]
    local = rng.random(total) < dist.locality
    steps = rng.integers(1, dist.neighbourhood + 1, total) * rng.choice((-1, 1), total)
    starts = np.cumsum(lengths) - lengths
    local[starts] = False
    offsets = np.cumsum(np.where(local, steps, 0))
    anchor = np.maximum.accumulate(np.where(local, 0, np.arange(total)))
    return (fresh[anchor] + offsets - offsets[anchor]) % products


def session_chunks(sessions: int, products: int, seed: int, dist: Distributions) -> Iterator[tuple[np.ndarray,
                                                                                                     np.ndarray]]:
    """Yield ``(prefix_lengths, product_rows)`` chunk by chunk (``CHUNK`` sessions each, the last one shorter)."""
    rng = np.random.default_rng([seed, 1])
    cdf = popularity_cdf(products, dist.zipf_exponent)
    rank_to_row = rng.permutation(products)
    for start in range(0, sessions, CHUNK):
        lengths = prefix_lengths(min(CHUNK, sessions - start), rng, dist)
        yield lengths, session_rows(lengths + 1, cdf, rank_to_row, rng, dist)


def write_sessions(handle: TextIO, sessions: int, ids: Sequence[str], locale: str, seed: int,
                   dist: Distributions) -> None:
    """The sessions file: header, then one ``prev_items,next_item,locale`` row per session."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(SESSION_HEADER)
    with tqdm(total=sessions, unit=" sessions", desc=SESSIONS_FILE, disable=None, mininterval=1.0) as bar:
        for lengths, rows in session_chunks(sessions, len(ids), seed, dist):
            items = [ids[row] for row in rows.tolist()]
            end = 0
            for length in lengths.tolist():
                start, end = end, end + length + 1
                writer.writerow((numpy_list_text(items[start:end - 1]), items[end - 1], locale))
            bar.update(len(lengths))


def brand_name(index: int) -> str:
    """A made-up brand: ``index`` written in base 16 with one syllable per digit (at least two)."""
    syllables = []
    while True:
        index, digit = divmod(index, len(SYLLABLES))
        syllables.append(SYLLABLES[digit])
        if index == 0 and len(syllables) >= 2:
            break
    return "".join(syllables).capitalize()


def product_row(product_id: str, locale: str, picks: dict[str, int], price: float) -> tuple[str, ...]:
    """One products-file row from the drawn word indices."""
    brand, noun = brand_name(picks["brand"]), NOUNS[picks["noun"]]
    adjective, colour = ADJECTIVES[picks["adjective"]], COLOURS[picks["colour"]]
    material, size = MATERIALS[picks["material"]], SIZES[picks["size"]]
    title = f"{brand} {adjective} {noun}" + (f", {colour}" if colour else "")
    author = f"{FIRST_NAMES[picks['first']]} {LAST_NAMES[picks['last']]}" if noun == BOOK else ""
    model = f"{brand[:2].upper()}-{picks['model']:04d}"
    desc = "" if picks["no_desc"] else (f"{adjective} {noun.lower()} by {brand}"
                                        + (f", made of {material.lower()}." if material else "."))
    return (product_id, locale, title, f"{price:.2f}", brand, colour, size, model, material, author, desc)


def write_products(handle: TextIO, ids: Sequence[str], locale: str, rng: np.random.Generator) -> None:
    """The products file: header, then one row per product id."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(PRODUCT_HEADER)
    brands = max(2, len(ids) // 50)
    choices = {"brand": brands, "noun": len(NOUNS), "adjective": len(ADJECTIVES), "colour": len(COLOURS),
               "material": len(MATERIALS), "size": len(SIZES), "first": len(FIRST_NAMES), "last": len(LAST_NAMES),
               "model": 10_000, "no_desc": 5}
    with tqdm(total=len(ids), unit=" products", desc=PRODUCTS_FILE, disable=None, mininterval=1.0) as bar:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            drawn = {name: rng.integers(0, high, len(chunk)).tolist() for name, high in choices.items()}
            prices = rng.lognormal(math.log(15.0), 0.9, len(chunk)).tolist()
            for index, product_id in enumerate(chunk):
                picks = {name: values[index] for name, values in drawn.items()}
                picks["no_desc"] = picks["no_desc"] == 0
                writer.writerow(product_row(product_id, locale, picks, prices[index]))
            bar.update(len(chunk))


def write_atomically(path: Path, write: Callable[[TextIO], None]) -> None:
    """Write ``path`` through a temporary file beside it, renamed when complete."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            write(stream)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def generate(output_dir: Path, sessions: int, products: int, seed: int = 0, locale: str = "UK",
             dist: Distributions = Distributions(), overwrite: bool = False) -> tuple[Path, Path]:
    """Write both files into ``output_dir``; returns (sessions path, products path).

    Raises ``FileExistsError`` when either file exists and ``overwrite`` is off.
    """
    paths = output_dir / SESSIONS_FILE, output_dir / PRODUCTS_FILE
    existing = [str(path) for path in paths if path.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist(s); pass --overwrite to replace")
    output_dir.mkdir(parents=True, exist_ok=True)
    product_rng = np.random.default_rng([seed, 0])
    ids = product_ids(products, product_rng)
    write_atomically(paths[1], lambda handle: write_products(handle, ids, locale, product_rng))
    write_atomically(paths[0], lambda handle: write_sessions(handle, sessions, ids, locale, seed, dist))
    return paths


def locale_code(text: str) -> str:
    """argparse type: a locale such as UK, DE or JP (letters only)."""
    if not text.isalpha() or not text.isascii():
        raise argparse.ArgumentTypeError(f"expected a locale such as UK, got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python bench/m2_synthetic.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=positive_int, default=1_400_000, help="session rows (1400000)")
    parser.add_argument("--products", type=positive_int, default=500_000, help="products (500000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--locale", type=locale_code, default="UK", help="locale of every row (UK)")
    parser.add_argument("--output_dir", type=Path, required=True, help="folder for the two CSV files")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        paths = generate(args.output_dir, args.sessions, args.products, args.seed, args.locale,
                         overwrite=args.overwrite)
    except FileExistsError as error:
        parser.error(str(error))
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size / 2 ** 20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
