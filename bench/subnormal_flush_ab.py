"""A/B: SemNISER_F with and without setting its tiny LLM entries (|x| < 1e-30) to 0, interleaved in one process.

    python bench/subnormal_flush_ab.py --data_path=dataset/ --sem_embedding_dir=saved/sem_embeddings --threads=2

Both models start from the same seed and train on the same first Beauty batches; the only difference is
`recbole_semsr.model.semsr.without_tiny_entries`, replaced by a plain float32 copy while the second model is built.
Prints the median milliseconds per training step of each over `--repeats` interleaved rounds.
"""
from __future__ import annotations

import argparse
from statistics import median

import torch
from recbole.data import create_dataset, data_preparation

import recbole_semsr.model.semsr as semsr
from recbole_semsr.cli import parse_overrides
from recbole_semsr.quick_start import prepare_dataset

from step_time import TimedRow, first_batches


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args, extra = parser.parse_known_args(argv)
    torch.set_num_threads(args.threads)
    common = {"train_batch_size": 100, "show_progress": False, **parse_overrides(extra)}
    rows = {"tiny entries set to 0 (default)": TimedRow("SemNISER_F", "beauty", common),
            "tiny entries kept": TimedRow("SemNISER_F", "beauty", common)}
    flushed, kept = rows.values()
    prepare_dataset(flushed.config)
    train_data, _, _ = data_preparation(flushed.config, create_dataset(flushed.config))
    batches = first_batches(train_data, args.warmup + args.steps)
    flushed.build(train_data._dataset)
    default = semsr.without_tiny_entries
    semsr.without_tiny_entries = lambda vectors: vectors.float()
    try:
        kept.build(train_data._dataset)
    finally:
        semsr.without_tiny_entries = default
    samples = {name: [] for name in rows}
    for row in rows.values():
        for batch in batches[: args.warmup]:
            row.step(batch)
    for _ in range(args.repeats):
        for name, row in rows.items():
            samples[name].append(row.milliseconds_per_step(batches[args.warmup:]))
    print(f"SemNISER_F on Beauty, {args.steps} steps x {args.repeats} rounds, {torch.get_num_threads()} threads")
    for name, values in samples.items():
        print(f"{name}: {median(values):.1f} ms / step (rounds: {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
