"""The stats of a conversion: the paper's Table 1 row, the `<name>.stats.json` file, and its printed form."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable

from dataset_converters.problems import ProblemLog
from dataset_converters.writers import InterFileWriter
from recbole_semsr.io import write_json


def table1_stats(train: InterFileWriter, valid: InterFileWriter, test: InterFileWriter, n_items: int,
                 session_lengths: Iterable[int]) -> dict:
    """Table 1 of the paper: sample counts per split, #items and the mean length of the (un-expanded) sessions."""
    lengths = list(session_lengths)
    samples = train.rows + valid.rows + test.rows
    return {
        "#train": train.rows,
        "#valid": valid.rows,
        "#test": test.rows,
        "#items": n_items,
        "avg_session_length": round(sum(lengths) / len(lengths), 4) if lengths else 0.0,
        "#sessions": len(lengths),
        "avg_prefix_length": round((train.prefix_items + valid.prefix_items + test.prefix_items) / samples, 4)
        if samples else 0.0,
    }


def write_stats(folder: Path, name: str, stats: dict, started: float) -> dict:
    """`stats` with the conversion's `seconds` since `started` (a `time.perf_counter()` reading), written as
    `<folder>/<name>.stats.json` (sorted keys, indented)."""
    timed = {**stats, "seconds": round(time.perf_counter() - started, 2)}
    write_json(folder / f"{name}.stats.json", timed, sort_keys=True)
    return timed


def format_stats(stats: dict) -> str:
    """The Table 1 row and the per-filter removal counts, for printing."""
    table = stats["table1"]
    lines = [
        f"dataset {stats['dataset']}: #train {table['#train']:,}  #valid {table['#valid']:,}  #test {table['#test']:,}"
        f"  #items {table['#items']:,}  avg session length {table['avg_session_length']:.2f}"
        f"  (#sessions {table['#sessions']:,}, avg prefix length {table['avg_prefix_length']:.2f})",
        "removed by each step:",
    ]
    lines.extend(f"  {count:>9,}  {step}" for step, count in stats["removed"].items())
    if "tied_share" in stats.get("order", {}):
        order = stats["order"]
        rule = "random" if order["tie_order"] == "random" else order["tie_order"]
        seed = f" (seed {order['tie_seed']})" if order.get("tie_seed") is not None else ""
        lines.append(f"event order: equal times {rule}{seed}; {order['tied_transitions']:,} of "
                     f"{order['transitions']:,} transitions tied ({100 * order['tied_share']:.1f} %)")
    if stats.get("item_table_note"):
        lines.append(stats["item_table_note"])
    problems = ProblemLog()
    problems.counts.update(stats["problems"]["counts"])
    problems.examples = stats["problems"]["examples"]
    lines.append(problems.summary())
    return "\n".join(lines)
