"""Where an MSGAT training step spends its time, part by part, on Beauty batches.

    python bench/msgat_profile.py --data_path=dataset/ --threads=2

Trains MSGAT (the YAML defaults) on the first `--warmup` + `--steps` training batches of batch size 100 and reports,
in milliseconds per step (mean over the timed steps): the forward pass, the backward pass and the optimiser step,
and inside the forward pass the parts of `recbole_semsr/model/msgat.py` (each part's own time includes its
sub-parts, listed under it with one more dot). Then it times one refresh of the training-session memory, which runs before
each evaluation. Any other `--key=value` is a config override (e.g. `--length_buckets=2`).
"""
from __future__ import annotations

import platform
import time
from collections import defaultdict
from contextlib import contextmanager

import torch
from recbole.data import create_dataset, data_preparation
from recbole.utils import init_seed

import recbole_semsr.model.msgat as msgat
from recbole_semsr.cli import parse_overrides
from recbole_semsr.config import SemSRConfig
from recbole_semsr.model.base import remember_training_batch
from recbole_semsr.quick_start import prepare_dataset

from step_time import step_timing_parser

# (name, object, attribute, depth): the timed parts, in the order they are printed
PARTS = [
    ("intra-session channel", "model", "bucketed_intra_session_vectors", 1),
    ("graph building", msgat, "build_packed_graph", 2),
    ("gated graph cell", "model.gnn", "forward", 2),
    ("attention steps (all buckets)", "model", "attended_session_vector", 2),
    ("target self-attention", "model.self_attention", "forward", 3),
    ("global attention", "model.global_attention", "forward", 3),
    ("alpha-entmax (both attentions)", msgat, "entmax_alpha", 3),
    ("relation vector (inter-session)", "model", "relation_vector", 1),
    ("memory overlap (Jaccard)", "model", "memory_overlap", 2),
    ("intent neighbours", "model", "intent_neighbours", 1),
]


class PartTimer:
    """Wraps functions and methods so that their wall-clock time adds up per part name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.enabled = False

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            if not self.enabled:
                return function(*args, **kwargs)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
        return timed

    @contextmanager
    def timing(self, name: str):
        start = time.perf_counter()
        yield
        self.seconds[name] += time.perf_counter() - start


def resolve(owner, model):
    """A PARTS owner: a module object, or a dotted path from the model."""
    if not isinstance(owner, str):
        return owner
    target = model
    for attribute in owner.split(".")[1:]:
        target = getattr(target, attribute)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = step_timing_parser(__doc__)
    parser.add_argument("--dataset", default="beauty")
    parser.add_argument("--warmup", type=int, default=5)
    args, extra = parser.parse_known_args(argv)
    torch.set_num_threads(args.threads)
    config = SemSRConfig("MSGAT", args.dataset, None, {"train_batch_size": 100, "show_progress": False,
                                                       **parse_overrides(extra)})
    prepare_dataset(config)
    train_data, _, _ = data_preparation(config, create_dataset(config))
    init_seed(config["seed"], config["reproducibility"])
    model = msgat.MSGAT(config, train_data._dataset).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    timer = PartTimer()
    for name, owner, attribute, _ in PARTS:
        target = resolve(owner, model)
        setattr(target, attribute, timer.wrap(name, getattr(target, attribute)))

    steps = 0
    for batch in train_data:
        timer.enabled = steps >= args.warmup
        optimizer.zero_grad()
        with timer.timing("forward pass (with loss)"):
            loss = model.calculate_loss(batch)
        remember_training_batch(model)
        with timer.timing("backward pass"):
            loss.backward()
        with timer.timing("optimiser step (Adam)"):
            optimizer.step()
        steps += 1
        if steps == args.warmup + args.steps:
            break
    timer.enabled = False
    model.eval()
    start = time.perf_counter()
    model.refresh_memory()
    refresh = time.perf_counter() - start

    per_step = {name: seconds / args.steps * 1000 for name, seconds in timer.seconds.items()}
    total = sum(per_step[name] for name in ("forward pass (with loss)", "backward pass", "optimiser step (Adam)"))
    print(f"MSGAT on {args.dataset}, batch 100, {args.steps} timed steps after {args.warmup}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}, {platform.processor() or platform.machine()}")
    print("| part | ms / step | share of the step |")
    print("| --- | ---: | ---: |")
    print(f"| **whole training step** | {total:.1f} | 100% |")
    for name in ("forward pass (with loss)", "backward pass", "optimiser step (Adam)"):
        print(f"| {name} | {per_step[name]:.1f} | {per_step[name] / total:.0%} |")
        if name.startswith("forward"):
            for part, _, _, depth in PARTS:
                indent = "· " * depth
                print(f"| {indent}{part} | {per_step.get(part, 0.0):.1f} | {per_step.get(part, 0.0) / total:.0%} |")
    print(f"\nmemory refresh before an evaluation ({len(model.memory)} sessions): {refresh * 1000:.0f} ms")


if __name__ == "__main__":
    main()
