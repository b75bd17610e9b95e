"""Encode all Amazon Beauty items with MiniLM and print items/second.

    python bench/encode_items.py [--meta PATH | --item_file beauty.item] [--batch_size 64] [--limit N]

Rows of the table:
- `sentence-transformers (baseline)`: `SentenceTransformer(dir).encode(texts)` called directly, the library's own path;
- `recbole_semsr minilm, full template`: our `get_encoder("minilm").encode` on the default item-text template
  (title, brand, categories, price, description; fields as the Beauty converter writes them);
- `recbole_semsr minilm, titles only`: the same encoder on titles alone (shorter texts).
The max |difference| between the first two shows the wrapper computes the same vectors.
"""
from __future__ import annotations

import argparse
import ast
import os
import platform
import time
from pathlib import Path

import numpy as np

from dataset_converters.beauty import ITEM_FIELDS, item_text
from recbole_semsr.embeddings.encoders import get_encoder, minilm_model_path
from recbole_semsr.embeddings.item_file import format_cell, read_item_file
from recbole_semsr.embeddings.item_text import ItemTextTemplate

def meta_values(record: dict) -> dict[str, str]:
    """Template values of one raw meta record, as the Beauty converter writes them to `beauty.item`."""
    row = item_text(str(record.get("asin", "")), record)
    types = dict(ITEM_FIELDS)
    values = {name: format_cell(str(row[name]), types[name], " ", name) for name in types if name != "item_id"}
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


def timed(label: str, encode, texts: list[str]) -> tuple[list[str], np.ndarray]:
    started = time.perf_counter()
    vectors = encode(texts)
    seconds = time.perf_counter() - started
    mean_chars = sum(map(len, texts)) / len(texts)
    return [label, f"{len(texts):,}", f"{mean_chars:.0f}", f"{seconds:.1f}", f"{len(texts) / seconds:.0f}"], vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meta", type=Path, required=True, help="meta_Beauty*.json (one dict per line)")
    parser.add_argument("--item_file", type=Path, default=None, help="a converted beauty.item instead of --meta")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None, help="first N items only (quick check)")
    args = parser.parse_args()

    if args.item_file:
        table = read_item_file(args.item_file)
        items = [table.values[token] for token in table.tokens]
    else:
        items = read_meta(args.meta)
    items = items[: args.limit]
    template = ItemTextTemplate()
    full_texts = [template.render(values) for values in items]
    titles = [values.get("title", "") for values in items]

    import torch
    from sentence_transformers import SentenceTransformer

    baseline_model = SentenceTransformer(str(minilm_model_path()), device="cpu")
    encoder = get_encoder("minilm")
    baseline_row, baseline = timed(
        "sentence-transformers (baseline)",
        lambda texts: baseline_model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True),
        full_texts,
    )
    ours_row, ours = timed(
        "recbole_semsr minilm, full template",
        lambda texts: encoder.encode(texts, batch_size=args.batch_size, show_progress=False),
        full_texts,
    )
    titles_row, _ = timed(
        "recbole_semsr minilm, titles only",
        lambda texts: encoder.encode(texts, batch_size=args.batch_size, show_progress=False),
        titles,
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
          f"device {encoder.device}, batch {args.batch_size}, load average after the runs (1/5/15 min) {load}")
    print("| run | items | mean chars | seconds | items/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in (baseline_row, ours_row, titles_row):
        print("| " + " | ".join(row) + " |")
    print(f"max |ours - baseline| = {np.abs(ours - baseline).max():.2e}")


if __name__ == "__main__":
    main()
