"""Milliseconds per training step of several models on the same batches, interleaved so that load hits all rows alike.

    python bench/step_time.py --dataset=beauty --rows NISER SemNISER_F --steps=40 --repeats=3 \\
        --data_path=dataset/ --sem_embedding_dir=saved/sem_embeddings

Each row is built from the same seed and trains on the same first `--steps` batches of the training split (after
`--warmup` untimed steps); the rows take turns `--repeats` times and the table gives the median of the repeats, the
ratio to the first row and the estimated seconds per epoch (ms/step x batches per epoch, data loading excluded).
On a machine shared with other jobs this gives a steadier ratio than `bench/epoch_time.py`, whose rows run one
after the other. A row is `MODEL[:key=value,...]` as in `bench/epoch_time.py`; any other `--key=value` is a config
override for all rows.
"""
from __future__ import annotations

import argparse
import platform
import time
from statistics import median

import torch
from recbole.data import create_dataset, data_preparation
from recbole.utils import init_seed
from torch.utils.flop_counter import FlopCounterMode

from recbole_semsr.cli import parse_overrides
from recbole_semsr.config import SemSRConfig
from recbole_semsr.model import get_model
from recbole_semsr.model.base import remember_training_batch
from recbole_semsr.quick_start import prepare_dataset

from epoch_time import parse_row


class TimedRow:
    """One model with its optimizer, trained step by step on given batches."""

    def __init__(self, row: str, dataset: str, common: dict) -> None:
        model_name, overrides = parse_row(row)
        self.config = SemSRConfig(model_name, dataset, None, {**common, **overrides})
        self.model = None
        self.optimizer = None

    def build(self, train_dataset) -> None:
        """The model, from the row's seed, and its Adam optimizer."""
        init_seed(self.config["seed"], self.config["reproducibility"])
        self.model = get_model(self.config["model"])(self.config, train_dataset).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config["learning_rate"])

    def step(self, batch) -> None:
        self.optimizer.zero_grad()
        loss = self.model.calculate_loss(batch)
        remember_training_batch(self.model)
        loss.backward()
        self.optimizer.step()

    def flops_per_step(self, batches: list) -> float:
        """Floating-point operations per step (forward, backward and optimiser) of the matrix products, as counted by
        `torch.utils.flop_counter` (2 per multiply-add), averaged over `batches`."""
        with FlopCounterMode(display=False) as counter:
            for batch in batches:
                self.step(batch)
        return counter.get_total_flops() / len(batches)

    def milliseconds_per_step(self, batches: list) -> float:
        start = time.perf_counter()
        for batch in batches:
            self.step(batch)
        return (time.perf_counter() - start) / len(batches) * 1000


def first_batches(train_data, count: int) -> list:
    batches = []
    for batch in train_data:
        batches.append(batch)
        if len(batches) == count:
            break
    return batches


def step_timing_parser(description: str | None) -> argparse.ArgumentParser:
    """The flags of every script that times training steps: `--steps` (batches timed) and `--threads` (torch's)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="batches timed (%(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (%(default)s)")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = step_timing_parser(__doc__)
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--rows", nargs="+", default=["NISER", "SemNISER_F"])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--flops", action="store_true",
                        help="also count each row's matrix-product FLOPs per step (one extra untimed pass)")
    args, extra = parser.parse_known_args(argv)
    torch.set_num_threads(args.threads)
    common = {"train_batch_size": args.batch_size, "show_progress": False, **parse_overrides(extra)}
    rows = {row: TimedRow(row, args.dataset, common) for row in args.rows}
    reference = next(iter(rows.values())).config
    prepare_dataset(reference)
    train_data, _, _ = data_preparation(reference, create_dataset(reference))
    batches = first_batches(train_data, args.warmup + args.steps)
    warmup, timed = batches[: args.warmup], batches[args.warmup:]
    for row in rows.values():
        row.build(train_data._dataset)
        for batch in warmup:
            row.step(batch)
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.repeats):
        for name, row in rows.items():
            samples[name].append(row.milliseconds_per_step(timed))
    print(f"dataset {args.dataset}, batch {args.batch_size}, {len(timed)} timed steps x {args.repeats} repeats "
          f"(interleaved), {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}")
    flops = {name: row.flops_per_step(timed) for name, row in rows.items()} if args.flops else None
    print(format_table({name: median(values) for name, values in samples.items()}, samples, len(train_data), flops))


def format_table(medians: dict[str, float], samples: dict[str, list[float]], batches_per_epoch: int,
                 flops: dict[str, float] | None = None) -> str:
    """Markdown table: median ms/step, the repeats, ratio to the first row, estimated s/epoch (and matrix-product
    GFLOP per step with its ratio to the first row)."""
    first = next(iter(medians.values()))
    header = "| row | ms / step (median) | repeats | x first row | est. s / epoch |"
    rule = "| --- | ---: | --- | ---: | ---: |"
    if flops:
        header, rule = header + " GFLOP / step | x first row |", rule + " ---: | ---: |"
    lines = [header, rule]
    for name, value in medians.items():
        repeats = ", ".join(f"{sample:.0f}" for sample in samples[name])
        line = (f"| {name} | {value:.1f} | {repeats} | {value / first:.2f} | "
                f"{value * batches_per_epoch / 1000:.0f} |")
        if flops:
            line += f" {flops[name] / 1e9:.2f} | {flops[name] / next(iter(flops.values())):.2f} |"
        lines.append(line)
    return "\n".join(lines)

if __name__ == "__main__":
    main()
