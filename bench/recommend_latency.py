r"""Latency and throughput of `Recommender` (recbole_semsr/recommender.py) on the CPU, per checkpoint and thread count.

    python bench/recommend_latency.py --checkpoints saved/NISER-....pth saved/SemNISER_F-....pth \
        saved/VSTAN-....pth --threads 1 2 --output docs/results/recommend_latency_beauty.md

For each checkpoint (loaded once, in its own process) and each torch thread count it measures, on test-file
sessions of the checkpoint's dataset (seeded sample, raw ids, the API's default of excluding session items):

* one session at a time: p50 and p99 of `recommend(session, k)` over `--single` calls, after `--warmup` calls (the
  first call of a SemSR-F model builds its fused item table);
* batches of `--batch` sessions: sessions per second of `recommend_batch` over `--batches` batches.

Baseline in the same process: "top-k only", `torch.topk` over a random [B, n_items] score matrix with the same k
and the session items masked: the full ranking that every model pays on top of computing its scores.
Prints a Markdown table with the machine, the command and the machine's 1-minute load average after each row
(above the number of CPUs, other work shared the cores) (`--output FILE` also writes it there).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np
import torch

from recbole_semsr.config import dataset_dir
from recbole_semsr.recommender import Recommender, padded
from recbole_semsr.rerank import mask_session_items


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", nargs="+", required=True, help="runner checkpoints (.pth)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="torch thread counts")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--single", type=int, default=200, help="one-session calls timed per row")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls before each row")
    parser.add_argument("--batch", type=int, default=100, help="sessions per batch")
    parser.add_argument("--batches", type=int, default=5, help="batches timed per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/ when the data moved")
    parser.add_argument("--output", type=Path, default=None, help="also write the table here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def test_sessions(recommender: Recommender, count: int, seed: int) -> list[list[str]]:
    """`count` session prefixes (raw ids) drawn with `seed` from the checkpoint's test file, with replacement
    when the file holds fewer."""
    config = recommender.config
    path = dataset_dir(config) / f"{config['dataset']}.test.inter"
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    sessions = [line.split("\t")[1].split(" ") for line in lines]
    rng = random.Random(seed)
    return [rng.choice(sessions) for _ in range(count)]


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(np.asarray(values), share))


def time_single(call, sessions: list[list[str]], warmup: int) -> list[float]:
    """Milliseconds of `call(session)` for each session, after `warmup` untimed calls."""
    for session in sessions[:warmup]:
        call(session)
    times = []
    for session in sessions:
        start = time.perf_counter()
        call(session)
        times.append((time.perf_counter() - start) * 1000)
    return times


def time_batches(call, batches: list[list[list[str]]]) -> float:
    """Sessions per second of `call(batch)` over `batches` (one untimed batch first)."""
    call(batches[0])
    start = time.perf_counter()
    for batch in batches:
        call(batch)
    return sum(len(batch) for batch in batches) / (time.perf_counter() - start)


def top_k_only(recommender: Recommender, k: int) -> tuple:
    """The baseline: full ranking of random scores, with the same masking, over the same catalogue."""
    def rank(sessions: list[list[str]]) -> None:
        ids = [recommender.parse_session(session).ids or [1] for session in sessions]
        scores = torch.rand(len(ids), recommender.n_items + 1)
        scores[:, 0] = -torch.inf
        mask_session_items(scores, padded(ids))
        scores.topk(k, dim=1)

    return (lambda session: rank([session])), rank


def measure(args: argparse.Namespace, checkpoint: str) -> list[dict]:
    """Rows of one checkpoint: the model and the top-k-only baseline at every thread count."""
    started = time.perf_counter()
    recommender = Recommender.load(checkpoint, data_path=args.data_path, device="cpu")
    load_seconds = time.perf_counter() - started
    sessions = test_sessions(recommender, args.single + args.batch * args.batches, args.seed)
    single, rest = sessions[:args.single], sessions[args.single:]
    batches = [rest[start:start + args.batch] for start in range(0, len(rest), args.batch)]
    rows = []
    candidates = {recommender.model_name: (lambda session: recommender.recommend(session, args.k),
                                           lambda batch: recommender.recommend_batch(batch, args.k, True, args.batch)),
                  "top-k only (baseline)": top_k_only(recommender, args.k)}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, (one, many) in candidates.items():
            latencies = time_single(one, single, args.warmup)
            per_second = time_batches(many, batches)
            rows.append({"model": name, "dataset": recommender.config["dataset"], "n_items": recommender.n_items,
                         "threads": threads, "p50_ms": median(latencies), "p99_ms": percentile(latencies, 99),
                         "sessions_per_s": per_second, "load_s": load_seconds, "load_average": os.getloadavg()[0]})
    return rows


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else the platform's machine name."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def markdown(rows: list[dict], args: argparse.Namespace, argv: list[str]) -> str:
    lines = [
        f"| model | dataset | items | threads | p50 ms (1 session) | p99 ms (1 session) | sessions/s (batches of "
        f"{args.batch}) | model load s | machine load average |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(f"| {row['model']} | {row['dataset']} | {row['n_items']:,} | {row['threads']} | "
                     f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['sessions_per_s']:,.0f} | "
                     f"{row['load_s']:.1f} | {row['load_average']:.1f} |")
    machine = f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    command = "python bench/recommend_latency.py " + " ".join(shlex.quote(arg) for arg in argv)
    return "\n".join([f"Machine: {machine}.", f"Command: `{command}`", "", *lines, ""])


def worker_arguments(args: argparse.Namespace, checkpoint: str) -> list[str]:
    """The command line of the process that measures one checkpoint."""
    options = [f"--{key}={getattr(args, key)}" for key in ("k", "single", "warmup", "batch", "batches", "seed")]
    data_path = [f"--data_path={args.data_path}"] if args.data_path else []
    return ["--worker", "--checkpoints", checkpoint, "--threads", *map(str, args.threads), *options, *data_path]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args, args.checkpoints[0])))
        return
    rows = []
    for checkpoint in args.checkpoints:
        answer = subprocess.run([sys.executable, __file__, *worker_arguments(args, checkpoint)], check=True,
                                capture_output=True, text=True).stdout
        rows += json.loads(answer.strip().splitlines()[-1])
    table = markdown(rows, args, argv)
    print(table)
    if args.output is not None:
        args.output.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
