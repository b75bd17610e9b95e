r"""One SemNISER_F training epoch on the synthetic Amazon-M2, through RecBole: seconds per epoch and peak memory.

    python bench/m2_gpu_epoch.py --work_dir DIR                    # 1,400,000 sessions, 500,000 products, CUDA
    python bench/m2_gpu_epoch.py --work_dir DIR --sessions 2000 --products 1000 --d2 32 --limit_batches 3   # CPU

Prepares once per (sessions, products, seed) under ``--work_dir``, and reuses on the next run: the synthetic files
(``bench/m2_synthetic.py``), the converted dataset ``kdd_m2_uk`` (``dataset_converters.kdd_m2``; valid and test as
in ``bench/m2_scale.py``), and random unit vectors of size ``--d2`` for every item, written into the encoder cache
under the fingerprint that the loader computes for this config. The model therefore loads them as it would load
encoded vectors, and no encoder is built (the made-up model name would fail on a cache miss).

Then it does what ``recbole_semsr.quick_start.run`` does up to training (``SemSRConfig``, ``create_dataset``,
``data_preparation``, the model, ``SemSRTrainer``) on CUDA when available, else on the CPU, and trains one epoch
with the trainer's own ``_train_epoch``: all batches, or the first ``--limit_batches``. It prints the seconds of
each part, ms per step, seconds per epoch (extrapolated from the steps run when limited) and the peak memory:
``torch.cuda.max_memory_allocated`` on a GPU, and the process's peak RSS.
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import resource
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from m2_scale import check_sessions, holdout_size, publish_report, random_unit_vectors
from m2_synthetic import PRODUCTS_FILE, SESSIONS_FILE, generate, positive_int

DATASET = "kdd_m2_uk"
MODEL = "SemNISER_F"
RANDOM_VECTORS_MODEL = "m2-synthetic-random-unit-vectors"
TRAIN_PART = "train (one epoch, or its first --limit_batches batches)"
T = TypeVar("T")


@dataclass(frozen=True)
class Prepared:
    """Where one synthetic dataset's files live."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def data_path(self) -> Path:
        return self.root / "dataset"

    @property
    def stats(self) -> Path:
        return self.data_path / DATASET / f"{DATASET}.stats.json"


class FirstBatches:
    """The first ``limit`` batches of a RecBole data loader (all of them when ``limit`` is None), counted."""

    def __init__(self, loader, limit: int | None) -> None:
        self.loader = loader
        self.limit = limit
        self.yielded = 0

    def __len__(self) -> int:
        return len(self.loader) if self.limit is None else min(self.limit, len(self.loader))

    def __iter__(self) -> Iterator:
        for batch in itertools.islice(self.loader, self.limit):
            self.yielded += 1
            yield batch


def prepare_dataset(work_dir: Path, sessions: int, products: int, seed: int) -> Prepared:
    """Generate and convert the synthetic files unless an earlier run left them; returns their folders."""
    from dataset_converters.kdd_m2 import M2Options, convert_kdd_m2

    prepared = Prepared(work_dir / f"m2-s{sessions}-p{products}-seed{seed}")
    if prepared.stats.is_file():
        print(f"reusing {prepared.data_path / DATASET}", flush=True)
        return prepared
    if not all((prepared.raw / name).is_file() for name in (SESSIONS_FILE, PRODUCTS_FILE)):
        generate(prepared.raw, sessions, products, seed, overwrite=True)
    holdout = holdout_size(sessions)
    convert_kdd_m2(prepared.raw / SESSIONS_FILE, prepared.raw / PRODUCTS_FILE, prepared.data_path / DATASET,
                   M2Options(valid_n=holdout, test_n=holdout, recent_n=holdout), overwrite=True)
    return prepared


def run_config(prepared: Prepared, args: argparse.Namespace):
    """The SemNISER_F config of this benchmark (paper sizes; the random vectors as the LLM table)."""
    from recbole_semsr.config import SemSRConfig
    from recbole_semsr.model import get_model

    return SemSRConfig(get_model(MODEL), DATASET, None, {
        "data_path": str(prepared.data_path), "checkpoint_dir": str(prepared.root / "saved"),
        "sem_embedding_dir": str(prepared.root / "sem_embeddings"), "sem_encoder": "sentence-transformers",
        "sem_model_path": RANDOM_VECTORS_MODEL, "sem_embedding_size": args.d2, "train_batch_size": args.batch,
        "epochs": 1, "show_progress": False, "seed": args.seed,
    })


def store_random_vectors(config, dim: int, seed: int) -> None:
    """Random unit vectors for every item of the dataset's ``.item`` file, in the encoder cache entry the loader
    looks up for ``config`` (the key as in ``item_embeddings_for_config``); kept when already there."""
    from recbole_semsr.embeddings.loader import configured_encoder, read_item_texts, setting
    from recbole_semsr.embeddings.store import EmbeddingStore, cache_fingerprint

    table, template, texts = read_item_texts(config)
    spec = configured_encoder(config)
    digest = cache_fingerprint(spec.describe(), template.describe(), table.tokens, texts)
    store = EmbeddingStore(setting(config, "sem_embedding_dir"))
    _, index_path = store.paths(config["dataset"], spec.name, digest)
    if not index_path.is_file():
        vectors = random_unit_vectors(len(table.tokens), dim, seed)
        store.save(config["dataset"], spec.name, digest, table.tokens, vectors,
                   {"vectors": "random unit vectors (bench/m2_gpu_epoch.py)"})


class Stopwatch:
    """Seconds of named parts, in order."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = {}

    def time(self, name: str, work: Callable[[], T]) -> T:
        """``work()``, timed under ``name``."""
        started = time.perf_counter()
        result = work()
        self.parts[name] = time.perf_counter() - started
        return result


def build_trainer(args: argparse.Namespace, clock: Stopwatch) -> tuple:
    """The config, the RecBole dataset, the training loader and a trainer holding SemNISER_F, each part timed."""
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import init_seed

    from recbole_semsr.model import get_model
    from recbole_semsr.trainer import SemSRTrainer

    prepared = clock.time("prepare the synthetic dataset (generate, convert)",
                          lambda: prepare_dataset(args.work_dir, args.sessions, args.products, args.seed))
    config = run_config(prepared, args)
    clock.time(f"store {args.d2}-d random item vectors (first run only)",
               lambda: store_random_vectors(config, args.d2, args.seed))
    init_seed(config["seed"], config["reproducibility"])
    dataset = clock.time("RecBole: create_dataset", lambda: create_dataset(config))
    train_data, _, _ = clock.time("RecBole: data_preparation", lambda: data_preparation(config, dataset))
    init_seed(config["seed"], config["reproducibility"])
    model = clock.time("build SemNISER_F (loads the item vectors)",
                       lambda: get_model(MODEL)(config, train_data._dataset).to(config["device"]))
    return config, dataset, train_data, SemSRTrainer(config, model)


def epoch_facts(config, dataset, train_data, batches: FirstBatches) -> dict:
    """Device, sizes, steps and peak memory after the epoch."""
    import torch

    device = torch.device(config["device"])
    on_gpu = device.type == "cuda"
    return {
        "device": torch.cuda.get_device_name(device) if on_gpu else "cpu",
        "steps": batches.yielded, "steps_per_epoch": len(train_data), "items": dataset.item_num - 1,
        "train_samples": len(train_data.dataset), "batch": config["train_batch_size"],
        "peak_gpu_mib": torch.cuda.max_memory_allocated(device) / 2 ** 20 if on_gpu else None,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
    }


def train_one_epoch(args: argparse.Namespace) -> tuple[dict[str, float], dict]:
    """Prepare, build and train; returns the seconds of each part and the facts of the epoch."""
    clock = Stopwatch()
    config, dataset, train_data, trainer = build_trainer(args, clock)
    batches = FirstBatches(train_data, args.limit_batches)
    trainer._train_epoch(batches, epoch_idx=0)
    clock.parts[TRAIN_PART] = trainer.epoch_seconds[0]
    return clock.parts, epoch_facts(config, dataset, train_data, batches)


def format_report(parts: dict[str, float], facts: dict, argv: Sequence[str]) -> str:
    """Markdown: the command, the machine, each part's seconds, then the epoch's figures."""
    epoch_seconds = parts[TRAIN_PART]
    per_step = epoch_seconds / max(facts["steps"], 1)
    lines = [f"Command: `{shlex.join(['python', 'bench/m2_gpu_epoch.py', *argv])}`", "",
             f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, device {facts['device']}, "
             f"{facts['threads']} torch threads, torch {facts['torch']}", "",
             f"{MODEL} on the synthetic {DATASET}: {facts['train_samples']:,} training samples, {facts['items']:,} "
             f"items, batch {facts['batch']}",
             "", "| part | seconds |", "| --- | ---: |"]
    lines.extend(f"| {name} | {seconds:.1f} |" for name, seconds in parts.items())
    lines += ["", "| steps run | steps per epoch | ms / step | s / epoch | peak GPU memory (MiB) | peak RSS (MiB) |",
              "| ---: | ---: | ---: | ---: | ---: | ---: |",
              f"| {facts['steps']:,} | {facts['steps_per_epoch']:,} | {per_step * 1000:.1f} | "
              f"{per_step * facts['steps_per_epoch']:.1f}"
              f"{'' if facts['steps'] == facts['steps_per_epoch'] else ' (extrapolated)'} | "
              f"{'-' if facts['peak_gpu_mib'] is None else format(facts['peak_gpu_mib'], ',.0f')} | "
              f"{facts['peak_rss_mib']:,.0f} |"]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python bench/m2_gpu_epoch.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", type=Path, required=True, help="folder for the dataset and vectors (kept)")
    parser.add_argument("--sessions", type=positive_int, default=1_400_000, help="synthetic sessions (1400000)")
    parser.add_argument("--products", type=positive_int, default=500_000, help="synthetic products (500000)")
    parser.add_argument("--d2", type=positive_int, default=1024, help="LLM vector size (1024)")
    parser.add_argument("--batch", type=positive_int, default=100, help="training batch size (100)")
    parser.add_argument("--limit_batches", type=positive_int, help="train only the first N batches (CPU checks)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the files, vectors and model (0)")
    parser.add_argument("--output", type=Path, help="also write the Markdown report to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    check_sessions(parser, args.sessions)
    parts, facts = train_one_epoch(args)
    report = format_report(parts, facts, argv)
    publish_report(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
