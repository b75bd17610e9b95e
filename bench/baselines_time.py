"""Seconds to fit each non-neural baseline and evaluate it on valid and test (full ranking), against a target.

    python bench/baselines_time.py --dataset=beauty --rows POP SR VSKNN STAN VSTAN --threads=2 [--key=value ...]

Every row goes through `recbole_semsr.quick_start.run` (the runner's own path: data loading, fitting on the
rebuilt training sessions, one validation pass, one test pass), one row after the other in this one process. The
table gives the wall-clock seconds of the whole run, of the fit and of each evaluation, and each row's ratio to the
`--target` seconds (the issue's budget: 60 s per model on 2 cores). Any other `--key=value` is a config override for
all rows, e.g. a row's tuned settings: `STAN:knn_remind=False,knn_neighbours=500`.
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from pathlib import Path
from time import perf_counter

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from epoch_time import parse_row  # noqa: E402  (bench/ scripts share the row syntax)

from recbole_semsr.cli import parse_overrides  # noqa: E402
from recbole_semsr.quick_start import run  # noqa: E402


def measure(row: str, dataset: str, common: dict, checkpoint_dir: Path) -> dict[str, float]:
    """Seconds of the whole run, the fit, the validation pass and the test pass of one row."""
    model, overrides = parse_row(row)
    config = {"show_progress": False, "checkpoint_dir": str(checkpoint_dir), **common, **overrides}
    start = perf_counter()
    result = run(model, dataset, config_dict=config)
    total = perf_counter() - start
    return {"total": total, "fit": result["fit_seconds"], "eval": result["eval_seconds"],
            "mrr@20": result["test_result"]["mrr@20"]}


def format_table(timings: dict[str, dict[str, float]], target: float) -> str:
    lines = ["| row | s total | s fit | s / evaluation | x target | test MRR@20 |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in timings.items():
        lines.append(f"| {name} | {row['total']:.1f} | {row['fit']:.2f} | {row['eval']:.1f} | "
                     f"{row['total'] / target:.2f} | {100 * row['mrr@20']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--rows", nargs="+", default=["POP", "SR", "VSKNN", "STAN", "VSTAN"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--target", type=float, default=60.0, help="seconds allowed per row (fit + valid + test)")
    args, extra = parser.parse_known_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as checkpoint_dir:
        timings = {row: measure(row, args.dataset, parse_overrides(extra), Path(checkpoint_dir)) for row in args.rows}
    print(f"dataset {args.dataset}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}; s total includes loading the atomic files")
    print(format_table(timings, args.target))


if __name__ == "__main__":
    main()
