"""Side by side: each model's test metrics under the two event orders, with the relative change (Markdown).

    python docs/results/beauty_order/compare.py outputs/table2_file outputs/table2_random > table.md
"""
from __future__ import annotations

import sys

from recbole_semsr.benchmark.report import TABLE_METRICS, summarise
from recbole_semsr.benchmark.store import ResultsStore


def side_by_side(file_root: str, random_root: str, dataset: str = "beauty") -> str:
    """One row per model present under both orders: metric under `file`, under `random`, and the change in %."""
    by_order = {order: summarise(ResultsStore(root).load().records).get(dataset, {})
                for order, root in (("file", file_root), ("random", random_root))}
    header = ["model", "runs (file / random)"] + [f"{label} {part}" for _, label in TABLE_METRICS
                                                  for part in ("file", "random", "change")]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    for model, at_random in by_order["random"].items():
        at_file = by_order["file"].get(model)
        if at_file is None:
            continue
        cells = [model, f"{at_file.runs} / {at_random.runs}"]
        for metric, _ in TABLE_METRICS:
            before, after = 100 * at_file.mean[metric], 100 * at_random.mean[metric]
            cells += [f"{before:.2f}", f"{after:.2f}", f"{100 * (after - before) / before:+.1f} %"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(side_by_side(sys.argv[1], sys.argv[2]))
