"""Seconds per training epoch and per full evaluation, several models on the same data, batch size and threads.

    python bench/epoch_time.py --dataset=beauty --rows SRGNN NISER MSGAT SemNISER_F --baselines SRGNN NISER

A row is a model name, optionally with overrides: `MSGAT:msgat_neighbour_source=batch`. Every row trains
`--epochs` epochs through `recbole_semsr.quick_start.run` (the runner's own timing: wall-clock seconds of each
training epoch and of each full-ranking validation pass), one row after the other in this one process, and the
table gives each row's ratio to every `--baselines` row. Any other `--key=value` is a config override for all rows
(e.g. `--data_path=dataset/ --sem_embedding_dir=saved/sem_embeddings`).
"""
from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import torch

from recbole_semsr.cli import parse_overrides
from recbole_semsr.config import parse_config_value
from recbole_semsr.quick_start import run


def parse_row(row: str) -> tuple[str, dict]:
    """`MODEL[:key=value,key=value]` -> (MODEL, overrides)."""
    model, _, settings = row.partition(":")
    overrides = {}
    for setting in filter(None, settings.split(",")):
        key, sep, value = setting.partition("=")
        if not sep:
            raise SystemExit(f"bad row {row!r}: expected MODEL:key=value,...")
        overrides[key] = parse_config_value(value)
    return model, overrides


def measure(row: str, args: argparse.Namespace, common: dict, checkpoint_dir: Path) -> dict[str, float]:
    """Mean seconds per training epoch and per validation pass of one row."""
    model, overrides = parse_row(row)
    config = {"epochs": args.epochs, "train_batch_size": args.batch_size, "eval_batch_size": args.eval_batch_size,
              "show_progress": False, "checkpoint_dir": str(checkpoint_dir), "stopping_step": args.epochs + 1,
              **common, **overrides}
    result = run(model, args.dataset, config_dict=config, evaluate_test=False)
    return {"epoch": result["seconds_per_epoch"], "eval": result["eval_seconds"]}


def format_table(timings: dict[str, dict[str, float]], baselines: list[str]) -> str:
    """Markdown table with a ratio column per baseline row."""
    header = "| row | s / epoch | s / evaluation |" + "".join(f" epoch x {b} | eval x {b} |" for b in baselines)
    lines = [header, "| --- | ---: | ---: |" + " ---: | ---: |" * len(baselines)]
    for name, row in timings.items():
        ratios = "".join(f" {row['epoch'] / timings[b]['epoch']:.2f} | {row['eval'] / timings[b]['eval']:.2f} |"
                         for b in baselines)
        lines.append(f"| {name} | {row['epoch']:.1f} | {row['eval']:.1f} |{ratios}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--rows", nargs="+", default=["SRGNN", "NISER"])
    parser.add_argument("--baselines", nargs="*", default=None, help="rows to compare against (default: the first)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--eval_batch_size", type=int, default=500)
    args, extra = parser.parse_known_args(argv)
    baselines = args.baselines or args.rows[:1]
    unknown = sorted(set(baselines) - set(args.rows))
    if unknown:
        raise SystemExit(f"--baselines {unknown} are not among --rows")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as checkpoint_dir:
        timings = {row: measure(row, args, parse_overrides(extra), Path(checkpoint_dir)) for row in args.rows}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"dataset {args.dataset}, batch {args.batch_size}, eval batch {args.eval_batch_size}, {args.epochs} "
          f"epoch(s), {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, {device}")
    print(format_table(timings, baselines))


if __name__ == "__main__":
    main()
