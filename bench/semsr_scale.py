"""SemSR-F at Amazon-M2 scale on synthetic tensors: one training step and one full-sort evaluation batch.

    python bench/semsr_scale.py                       # n = 500,000 items, d2 = 1024, batch 100 (paper scale)
    python bench/semsr_scale.py --items 100000        # smaller, for a 2-core CPU

Compares, in one command, SemNISER_F as implemented (`recbole_semsr.model.semsr`: W5 [I_m; I_l] computed as
W5_m I_m + W5_l I_l, fused item table cached between evaluation batches) with the equation as written (the
n x (d1 + d2) concatenation built at every step and every evaluation batch). Each variant runs in its own
subprocess so peak memory is its own: CUDA max_memory_allocated on a GPU, peak RSS on the CPU.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
from time import perf_counter

import torch

from recbole_semsr.model import semsr
from recbole_semsr.model.semsr import SemanticFusion

VARIANTS = ("as written (concatenation)", "recbole-semsr")


class ConcatenatedFusion(SemanticFusion):
    """I = W5 [I_m; I_l] with the concatenation materialised, as Eq. (Sec. 3.3.1) reads."""

    def items(self, base_items: torch.Tensor, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        llm_items = self.llm_table if item_ids is None else self.llm_table[item_ids]
        weight = torch.cat([self.item_projection_m.weight, self.item_projection_l.weight], dim=1)
        return torch.cat([base_items, llm_items], dim=1) @ weight.t()


class StubDataset:
    def __init__(self, item_num: int) -> None:
        self.item_num = item_num

    def num(self, field: str) -> int:
        return self.item_num


def build_model(args: argparse.Namespace, concatenate: bool, device: torch.device):
    config = {
        "USER_ID_FIELD": "session_id", "ITEM_ID_FIELD": "item_id", "LIST_SUFFIX": "_list",
        "ITEM_LIST_LENGTH_FIELD": "item_length", "MAX_ITEM_LIST_LENGTH": 50, "NEG_PREFIX": "neg_",
        "loss_type": "CE", "device": device, "embedding_size": args.d1, "step": 1, "sigma": 16.0,
        "item_dropout": 0.1, "sem_fused_size": args.d, "sem_normalize": True, "sem_logit_scale": 16.0,
        "sem_attend_last": False, "sem_llm_dim": None, "sem_item_precision": "fp32",
    }
    llm = torch.randn(args.items, args.d2)
    semsr.load_item_embeddings = lambda config, dataset: llm
    if concatenate:
        semsr.SemanticFusion = ConcatenatedFusion
    from recbole_semsr.model import MODELS

    return MODELS["SemNISER_F"](config, StubDataset(args.items)).to(device)


def batch(args: argparse.Namespace, device: torch.device):
    from recbole.data.interaction import Interaction

    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 20, (args.batch,), generator=generator)
    seq = torch.randint(1, args.items, (args.batch, 50), generator=generator)
    seq[torch.arange(50) >= lengths.unsqueeze(1)] = 0
    targets = torch.randint(1, args.items, (args.batch,), generator=generator)
    return Interaction({"item_id_list": seq, "item_length": lengths, "item_id": targets}).to(device)


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(args: argparse.Namespace, concatenate: bool) -> dict[str, float]:
    """Median seconds of a training step and of an evaluation batch, and peak memory in MiB."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_model(args, concatenate, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    interaction = batch(args, device)
    step_times, eval_times = [], []
    for _ in range(args.repeats + 1):
        model.train()
        synchronise(device)
        start = perf_counter()
        optimizer.zero_grad()
        model.calculate_loss(interaction).backward()
        optimizer.step()
        synchronise(device)
        step_times.append(perf_counter() - start)
    model.eval()
    with torch.no_grad():
        for _ in range(args.repeats + 1):
            synchronise(device)
            start = perf_counter()
            if concatenate:
                model._cached_items = None
            model.full_sort_predict(interaction)
            synchronise(device)
            eval_times.append(perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"step": sorted(step_times[1:])[args.repeats // 2], "eval": sorted(eval_times[1:])[args.repeats // 2],
            "peak_mib": peak / 2**20, "device": str(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=500_000)
    parser.add_argument("--d1", type=int, default=100)
    parser.add_argument("--d2", type=int, default=1024)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variant", type=int, choices=range(len(VARIANTS)), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant is not None:
        print(json.dumps(measure(args, concatenate=args.variant == 0)))
        return
    rows = {}
    for index, name in enumerate(VARIANTS):
        output = subprocess.run([sys.executable, __file__, *sys.argv[1:], f"--variant={index}"], check=True,
                                capture_output=True, text=True).stdout
        rows[name] = json.loads(output.strip().splitlines()[-1])
    device = next(iter(rows.values()))["device"]
    print(f"SemNISER_F, n = {args.items:,} items, d1 = {args.d1}, d2 = {args.d2}, d = {args.d}, batch {args.batch}; "
          f"device {device} ({torch.cuda.get_device_name() if device == 'cuda' else platform.processor() or 'cpu'}, "
          f"{torch.get_num_threads()} threads); median of {args.repeats}")
    baseline = rows[VARIANTS[0]]
    print("| variant | train step (s) | x | full-sort eval batch (s) | x | peak memory (MiB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, row in rows.items():
        print(f"| {name} | {row['step']:.4f} | {row['step'] / baseline['step']:.2f} | {row['eval']:.4f} "
              f"| {row['eval'] / baseline['eval']:.2f} | {row['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
