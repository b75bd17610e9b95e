r"""Cold start through the new-item path: SemSR-F checkpoints trained on a split with held-out items
(`--holdout_items`), their test set scored twice, once as the benchmark scores it (the held-out items' ID rows are
in the model, trained as negatives only) and once with those rows zero (`Recommender.score_as_new_items`, the
stand-in that `add_items` gives items added after training: the LLM side of the fusion alone).

    python bench/cold_start_new_items.py --checkpoints saved/SemNISER_F-....pth ... \
        --output docs/results/beauty_cold_start_new_items.md

Reads `<dataset>.holdout_items` and `<dataset>.test.inter` beside the checkpoint's data. Ranks every item but the
padding (ties counted against the target, as a strict rank), optionally with the session's items masked. Prints
R@K / MRR@K in percent on the samples with a held-out target, the others, and all, per checkpoint and their mean.
"""
from __future__ import annotations

import argparse
import csv
import platform
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from recbole_semsr.config import dataset_dir
from recbole_semsr.recommender import Recommender

BUCKETS = ("held-out target", "other targets", "all")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", nargs="+", required=True, help="SemSR-F checkpoints of one held-out split")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--batch", type=int, default=512, help="test samples scored at once")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, help="also write the Markdown table here")
    return parser.parse_args(argv)


def read_test_samples(folder: Path) -> list[tuple[list[str], str]]:
    """(prefix, target) raw ids of `<dataset>.test.inter`."""
    path = folder / f"{folder.name}.test.inter"
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))[1:]
    return [(prefix.split(" "), target) for _, prefix, target in rows]


def read_held_out(folder: Path) -> set[str]:
    path = folder / f"{folder.name}.holdout_items"
    if not path.is_file():
        sys.exit(f"{path} not found: convert the dataset with --holdout_items to measure cold start")
    return set(path.read_text().split())


def target_ranks(recommender: Recommender, samples: list[tuple[list[str], str]], mask_session: bool,
                 batch: int) -> np.ndarray:
    """Rank of each sample's target among all items (1 = first; ties count against the target)."""
    ids = [([recommender.token_to_id[item] for item in prefix], recommender.token_to_id[target])
           for prefix, target in samples]
    ranks = []
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        scores, _ = recommender.scores([prefix for prefix, _ in chunk], mask_session)
        targets = torch.tensor([target for _, target in chunk], device=scores.device)
        ranks.append(((scores > scores.gather(1, targets[:, None])).sum(1) + 1).cpu())
    return torch.cat(ranks).numpy()


def bucket_metrics(ranks: np.ndarray, held_out: np.ndarray, k: int) -> dict[str, tuple[float, float]]:
    """{bucket: (R@k, MRR@k)} in percent."""
    selections = {"held-out target": held_out, "other targets": ~held_out, "all": np.ones_like(held_out)}
    return {name: (100 * float(np.mean(ranks[sel] <= k)),
                   100 * float(np.mean(np.where(ranks[sel] <= k, 1.0 / ranks[sel], 0.0))))
            for name, sel in selections.items()}


def measure(checkpoint: str, k: int, batch: int) -> tuple[dict, dict]:
    """{(scoring, masking): bucket metrics} for one checkpoint, and the sample counts."""
    recommender = Recommender.load(checkpoint)
    folder = dataset_dir(recommender.config)
    samples, held = read_test_samples(folder), read_held_out(folder)
    held_out = np.array([target in held for _, target in samples])
    results = {}
    for scoring in ("as benchmarked", "held-out ID rows zero"):
        if scoring != "as benchmarked":
            recommender.score_as_new_items(held)
        for mask in (False, True):
            results[scoring, mask] = bucket_metrics(target_ranks(recommender, samples, mask, batch), held_out, k)
    counts = {"held-out target": int(held_out.sum()), "other targets": int((~held_out).sum()), "all": len(samples)}
    return results, counts


def markdown(per_checkpoint: list[dict], counts: dict, k: int, command: str) -> str:
    lines = [f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
             f"{torch.get_num_threads()} thread(s). Command: `{command}`", "",
             "| scoring | session items | " + " | ".join(f"{b} (n={counts[b]:,}) R@{k} / MRR@{k}" for b in BUCKETS)
             + " |", "| --- | --- |" + " ---: |" * len(BUCKETS)]
    for key in per_checkpoint[0]:
        scoring, mask = key
        cells = []
        for bucket in BUCKETS:
            recall = np.array([run[key][bucket][0] for run in per_checkpoint])
            mrr = np.array([run[key][bucket][1] for run in per_checkpoint])
            cells.append(f"{recall.mean():.2f} ± {recall.std():.2f} / {mrr.mean():.2f} ± {mrr.std():.2f}")
        lines.append(f"| {scoring} | {'masked' if mask else 'ranked'} | " + " | ".join(cells) + " |")
    lines.append(f"\nMean ± std over {len(per_checkpoint)} checkpoint(s).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    per_checkpoint, counts = [], {}
    for checkpoint in args.checkpoints:
        results, counts = measure(checkpoint, args.k, args.batch)
        per_checkpoint.append(results)
        print(f"measured {checkpoint}", flush=True)
    command = "python bench/cold_start_new_items.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    table = markdown(per_checkpoint, counts, args.k, command)
    print(table)
    if args.output is not None:
        args.output.write_text(table)


if __name__ == "__main__":
    main()
