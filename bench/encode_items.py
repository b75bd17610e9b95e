"""Encode Amazon Beauty items with MiniLM: the unsorted baseline against the default and the opt-in fast paths.

    python bench/encode_items.py --item_file dataset/beauty/beauty.item [--batch_size 64] [--limit N]
    python bench/encode_items.py --meta meta_Beauty.json [...]

Every row encodes the same texts (the default item-text template: title, brand, categories, price, description)
with all-MiniLM-L6-v2 on the CPU, after a warm-up batch, and is compared with the first row:
- `input order, unsorted (baseline)`: batches of `--batch_size` in file order;
- `sorted by characters (before issue 17)`: the earlier default, longest text (in characters) first;
- `sorted by word pieces (default)`: `get_encoder("minilm").encode`, today's default;
- `precision bf16`: the same with `sem_encoder_options: {precision: bf16}` (bfloat16 autocast);
- `max_length N`: the default path truncating at `--short_max_length` word pieces instead of 256.
Columns: seconds, items/s, speed-up over the baseline, max |difference| and lowest cosine against the baseline.
Threads: torch's default (set OMP_NUM_THREADS to pin them).
"""
from __future__ import annotations

import argparse
import ast
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dataset_converters.beauty import ITEM_FIELDS, item_text
from recbole_semsr.embeddings.encoders import TextEncoder, get_encoder, length_sorted_order
from recbole_semsr.embeddings.item_file import cell_display_text, read_item_file
from recbole_semsr.embeddings.item_text import ItemTextTemplate, render_item_texts

Run = Callable[[list[str]], np.ndarray]


def meta_values(record: dict) -> dict[str, str]:
    """Template values of one raw meta record, as the Beauty converter writes them to `beauty.item`."""
    row = item_text(str(record.get("asin", "")), record)
    types = dict(ITEM_FIELDS)
    values = {name: cell_display_text(str(row[name]), types[name], " ", name) for name in types if name != "item_id"}
    return {name: value for name, value in values.items() if value}


def read_meta(path: Path) -> list[dict[str, str]]:
    """Values of every item in a raw `meta_Beauty*.json` file (one Python-literal dict per line)."""
    items = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            try:
                items.append(meta_values(ast.literal_eval(line)))
            except (ValueError, SyntaxError) as exc:
                raise SystemExit(f"{path}, line {line_number}: not a Python dict literal ({exc})") from exc
    return items


def item_texts(args: argparse.Namespace) -> list[str]:
    """The default template's text of every item of `--item_file` or `--meta` (the first `--limit`)."""
    template = ItemTextTemplate()
    if args.item_file:
        texts = render_item_texts(read_item_file(args.item_file), template)
    else:
        texts = [template.render(values) for values in read_meta(args.meta)]
    return texts[: args.limit]


def input_order(encoder: TextEncoder, batch_size: int) -> Run:
    return lambda texts: encoder.encode_batches(texts, range(len(texts)), batch_size, show_progress=False)


def character_order(encoder: TextEncoder, batch_size: int) -> Run:
    return lambda texts: encoder.encode_batches(texts, length_sorted_order([len(text) for text in texts]),
                                                batch_size, show_progress=False)


def default_order(encoder: TextEncoder, batch_size: int) -> Run:
    return lambda texts: encoder.encode(texts, batch_size=batch_size, show_progress=False)


def timed(run: Run, texts: list[str], warm_up: int) -> tuple[float, np.ndarray]:
    """Seconds and vectors of `run(texts)`, after one untimed call on the first `warm_up` texts."""
    run(texts[:warm_up])
    started = time.perf_counter()
    vectors = run(texts)
    return time.perf_counter() - started, vectors


def bf16_hardware() -> str:
    """The CPU's bfloat16 matrix instruction sets, as /proc/cpuinfo lists them."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    return ", ".join(sorted(flags & {"amx_bf16", "avx512_bf16"})) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--item_file", type=Path, help="a converted beauty.item")
    source.add_argument("--meta", type=Path, help="raw meta_Beauty*.json (one dict per line)")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--short_max_length", type=int, default=128, help="word pieces of the max_length row")
    parser.add_argument("--limit", type=int, default=None, help="first N items only (quick check)")
    args = parser.parse_args()

    import torch

    texts = item_texts(args)
    exact = get_encoder("minilm", device="cpu")
    bf16 = get_encoder("minilm", device="cpu", precision="bf16")
    short = get_encoder("minilm", device="cpu", max_length=args.short_max_length)
    rows: list[tuple[str, Run]] = [
        ("input order, unsorted (baseline)", input_order(exact, args.batch_size)),
        ("sorted by characters (before issue 17)", character_order(exact, args.batch_size)),
        ("sorted by word pieces (default)", default_order(exact, args.batch_size)),
        ("precision bf16", default_order(bf16, args.batch_size)),
        (f"max_length {args.short_max_length}", default_order(short, args.batch_size)),
    ]
    pieces = exact.text_lengths(texts)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, bf16 instructions: {bf16_hardware()}, torch "
          f"threads {torch.get_num_threads()}, batch {args.batch_size}; {len(texts):,} items, mean "
          f"{np.mean([len(text) for text in texts]):.0f} characters, mean {np.mean(pieces):.0f} word pieces, "
          f"{sum(count > 256 for count in pieces)} over 256, {sum(count > args.short_max_length for count in pieces)} "
          f"over {args.short_max_length}")
    print("| run | seconds | items/s | speed-up | max abs diff | min cosine |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |", flush=True)
    baseline_seconds, baseline = None, None
    for label, run in rows:
        seconds, vectors = timed(run, texts, args.batch_size)
        if baseline is None:
            baseline_seconds, baseline = seconds, vectors
        cosine = np.sum(vectors * baseline, axis=1).min()
        print(f"| {label} | {seconds:.1f} | {len(texts) / seconds:.0f} | {baseline_seconds / seconds:.2f} | "
              f"{np.abs(vectors - baseline).max():.1e} | {cosine:.6f} |", flush=True)
    print(f"load average after the runs (1/5/15 min): {', '.join(f'{value:.1f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
