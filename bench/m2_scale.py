r"""Amazon-M2 at full size on one machine: the converter, the embedding store and one CPU evaluation batch.

    python bench/m2_scale.py --work_dir DIR --output docs/results/m2_scale.md      # 1.4 M sessions, 500 k items
    python bench/m2_scale.py --sessions 20000 --products 10000 --items 10000         # a quick run

Each step runs in its own subprocess, so its peak resident memory (``ru_maxrss`` of that child, read with
``os.wait4``) is its own. Seconds are the whole command's wall time for steps 1 and 2, and the timed call alone
(no interpreter start or imports) for steps 3 to 5:

1. ``bench/m2_synthetic.py`` writes ``sessions_train.csv`` and ``products_train.csv`` (``--seed``);
2. ``python -m dataset_converters.kdd_m2`` converts them (valid and test: the last min(10,000, sessions / 10)
   sessions each, as the paper's 10,000 at full size);
3. ``EmbeddingStore.save`` writes ``--items`` x ``--d2`` random float32 vectors (the encoder cache layout);
4. a fresh process reads them back with ``EmbeddingStore.load`` and aligns them to RecBole's item ids
   (``align_to_item_ids``), as ``load_item_embeddings`` does before a Sem model is built;
5. SemNISER_F over ``--items`` items (built as in ``bench/semsr_scale.py``) scores one evaluation batch against
   every item on the CPU and takes its top 100: the first batch computes and caches the fused item table, the
   next one reuses it.

Prints a Markdown table with the machine and the command (``--output FILE`` also writes it there). Without
``--work_dir`` the files go to a temporary folder that is removed at the end; at full size they take about 2.5 GB.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from argparse import Namespace
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from m2_synthetic import PRODUCTS_FILE, SESSIONS_FILE, positive_int

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
STORE_DATASET, STORE_ENCODER, STORE_DIGEST = "m2_synthetic", "random", "0" * 64
PAPER_HOLDOUT = 10_000
TOP_K = 100


@dataclass(frozen=True)
class Measured:
    """A finished child process: its wall-clock seconds, peak resident memory and everything it printed."""

    seconds: float
    peak_mib: float
    output: str


def child_environment() -> dict[str, str]:
    """The environment for a child: this checkout first on ``PYTHONPATH`` (its code is the code measured)."""
    paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}


def run_measured(command: Sequence[str]) -> Measured:
    """Run ``command`` to its end; its own peak RSS comes from ``os.wait4`` (Linux: ``ru_maxrss`` in KiB)."""
    started = time.perf_counter()
    with subprocess.Popen(command, cwd=REPO, env=child_environment(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as child:
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed with status {child.returncode}:\n{output}")
    return Measured(seconds, usage.ru_maxrss / 1024, output)


def run_step(step: str, args: argparse.Namespace) -> tuple[Measured, dict]:
    """Run one of this script's hidden steps in a child; returns its measurement and the JSON it printed last."""
    measured = run_measured([sys.executable, __file__, *step_arguments(args), f"--step={step}"])
    return measured, json.loads(measured.output.strip().splitlines()[-1])


def step_arguments(args: argparse.Namespace) -> list[str]:
    """The options a child step needs, as command-line arguments."""
    return [f"--work_dir={args.work_dir}", f"--items={args.items}", f"--d2={args.d2}", f"--seed={args.seed}",
            f"--batch={args.batch}"] + ([f"--threads={args.threads}"] if args.threads else [])


def holdout_size(sessions: int) -> int:
    """Sessions for each of valid and test: the paper's 10,000, or a tenth of a smaller file."""
    return max(1, min(PAPER_HOLDOUT, sessions // 10))


def generate_command(raw_dir: Path, args: argparse.Namespace) -> list[str]:
    return [sys.executable, str(BENCH / "m2_synthetic.py"), f"--sessions={args.sessions}",
            f"--products={args.products}", f"--seed={args.seed}", f"--output_dir={raw_dir}", "--overwrite"]


def convert_command(raw_dir: Path, output_dir: Path, sessions: int) -> list[str]:
    holdout = str(holdout_size(sessions))
    return [sys.executable, "-m", "dataset_converters.kdd_m2", "--sessions", str(raw_dir / SESSIONS_FILE),
            "--products", str(raw_dir / PRODUCTS_FILE), "--locale", "UK", "--output_dir", str(output_dir),
            "--valid_n", holdout, "--test_n", holdout, "--recent_n", holdout, "--overwrite"]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_unit_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    """``count`` x ``dim`` float32 vectors of length 1 in random directions (stand-ins for encoded items)."""
    vectors = np.random.default_rng(seed).standard_normal((count, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def write_store(args: argparse.Namespace) -> dict:
    """Step: ``--items`` x ``--d2`` random unit vectors (float32) into the embedding store (the save timed)."""
    from m2_synthetic import product_ids
    from recbole_semsr.embeddings.store import EmbeddingStore

    vectors = random_unit_vectors(args.items, args.d2, args.seed)
    ids = product_ids(args.items, np.random.default_rng(args.seed))
    started = time.perf_counter()
    stored = EmbeddingStore(args.work_dir / "store").save(STORE_DATASET, STORE_ENCODER, STORE_DIGEST, ids, vectors,
                                                          {"vectors": "random unit vectors"})
    return {"save_seconds": time.perf_counter() - started, "bytes": Path(stored.source).stat().st_size}


def load_store(args: argparse.Namespace) -> dict:
    """Step: read the store back (``EmbeddingStore.load``) and align it to RecBole ids (``align_to_item_ids``)."""
    from recbole_semsr.embeddings.loader import align_to_item_ids
    from recbole_semsr.embeddings.store import EmbeddingStore

    after_imports = peak_rss_mib()
    started = time.perf_counter()
    stored = EmbeddingStore(args.work_dir / "store").load(STORE_DATASET, STORE_ENCODER, STORE_DIGEST)
    loaded = time.perf_counter()
    peak_after_load = peak_rss_mib()
    token2id = {"[PAD]": 0, **{item_id: row + 1 for row, item_id in enumerate(stored.item_ids)}}
    table = align_to_item_ids(stored, token2id, len(token2id), expected_dim=args.d2)
    return {"load_seconds": loaded - started, "align_seconds": time.perf_counter() - loaded,
            "after_imports_mib": after_imports, "peak_after_load_mib": peak_after_load, "rows": int(table.shape[0])}


def evaluation_batch(args: argparse.Namespace) -> dict:
    """Step: SemNISER_F on the CPU, one full-ranking evaluation batch (scores for every item, then top 100) twice."""
    import torch

    from semsr_scale import batch, build_model

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    shape = Namespace(items=args.items, d1=100, d2=args.d2, d=100, batch=args.batch)
    device = torch.device("cpu")
    model = build_model(shape, concatenate=False, device=device).eval()
    interaction = batch(shape, device)
    seconds = []
    with torch.no_grad():
        for _ in range(2):
            started = time.perf_counter()
            torch.topk(model.full_sort_predict(interaction), min(TOP_K, args.items - 1), dim=-1)
            seconds.append(time.perf_counter() - started)
    return {"first_seconds": seconds[0], "cached_seconds": seconds[1], "threads": torch.get_num_threads()}


STEPS = {"write_store": write_store, "load_store": load_store, "evaluation_batch": evaluation_batch}


def converted_counts(output_dir: Path) -> str:
    """The Table 1 counts the converter wrote, in one line."""
    stats = json.loads((output_dir / "kdd_m2_uk.stats.json").read_text(encoding="utf-8"))
    table, bad = stats["table1"], sum(stats["problems"]["counts"].values())
    return (f"#train {table['#train']:,}, #valid {table['#valid']:,}, #test {table['#test']:,}, "
            f"#items {table['#items']:,}, avg prefix {table['avg_prefix_length']:.2f}, {bad} bad records")


Row = tuple[str, str, str, str]


def announce(step: str) -> None:
    """Say on stderr which step runs (the children's own progress bars are off: their output is captured)."""
    print(f"m2_scale: {step} ...", file=sys.stderr, flush=True)


def generation_rows(args: argparse.Namespace, raw_dir: Path) -> list[Row]:
    announce("generating the synthetic files")
    generated = run_measured(generate_command(raw_dir, args))
    sizes = " + ".join(f"{(raw_dir / name).stat().st_size / 2 ** 20:,.1f} MiB" for name in (SESSIONS_FILE,
                                                                                           PRODUCTS_FILE))
    return [("generate the synthetic files (`bench/m2_synthetic.py`)", f"{generated.seconds:.1f}",
             f"{generated.peak_mib:,.0f}", f"{args.sessions:,} sessions, {args.products:,} products; {sizes}")]


def conversion_rows(args: argparse.Namespace, raw_dir: Path, output_dir: Path) -> list[Row]:
    announce("converting them")
    converted = run_measured(convert_command(raw_dir, output_dir, args.sessions))
    return [("convert (`python -m dataset_converters.kdd_m2`)", f"{converted.seconds:.1f}",
             f"{converted.peak_mib:,.0f}", converted_counts(output_dir))]


def store_rows(args: argparse.Namespace) -> list[Row]:
    announce("writing the embedding store")
    written, facts = run_step("write_store", args)
    rows = [(f"write the embedding store ({args.items:,} x {args.d2} float32, `EmbeddingStore.save`)",
             f"{facts['save_seconds']:.2f}", f"{written.peak_mib:,.0f}",
             f"{facts['bytes'] / 2 ** 20:,.1f} MiB .npy; the process, {written.seconds:.1f} s, also imports and "
             "draws the vectors")]
    announce("loading it in a fresh process")
    loaded, facts = run_step("load_store", args)
    return rows + [
        ("load the embedding store (`EmbeddingStore.load`: read, check)", f"{facts['load_seconds']:.2f}",
         f"{facts['peak_after_load_mib']:,.0f}",
         f"fresh process, {facts['after_imports_mib']:,.0f} MiB after its imports (torch included)"),
        ("align to RecBole item ids (`align_to_item_ids`)", f"{facts['align_seconds']:.2f}",
         f"{loaded.peak_mib:,.0f}", f"same process; peak of load + align; {facts['rows']:,} rows"),
    ]


def evaluation_rows(args: argparse.Namespace) -> list[Row]:
    announce("scoring evaluation batches on the CPU")
    evaluated, facts = run_step("evaluation_batch", args)
    return [
        (f"SemNISER_F: first evaluation batch, full ranking over {args.items:,} items (CPU)",
         f"{facts['first_seconds']:.2f}", "", f"batch {args.batch}, top {TOP_K}; computes and caches the fused "
         f"item table; torch threads: {facts['threads']}"),
        ("SemNISER_F: next evaluation batch (cached item table)", f"{facts['cached_seconds']:.2f}",
         f"{evaluated.peak_mib:,.0f}", "peak of the whole process: random I_l, model, both batches"),
    ]


def measure_all(args: argparse.Namespace) -> list[Row]:
    """Every step in turn, under ``args.work_dir``; rows of (step, seconds, peak MiB, notes)."""
    raw_dir, output_dir = args.work_dir / "raw", args.work_dir / "dataset" / "kdd_m2_uk"
    return (generation_rows(args, raw_dir) + conversion_rows(args, raw_dir, output_dir) + store_rows(args)
            + evaluation_rows(args))


def machine_line() -> str:
    """Platform, processor, CPU count, load average, Python."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"load average {load} at the end, Python {platform.python_version()}")


def format_report(rows: list[Row], argv: Sequence[str]) -> str:
    """The Markdown report: command, machine and the table."""
    lines = [f"Command: `{shlex.join(['python', 'bench/m2_scale.py', *argv])}`", "",
             f"Machine: {machine_line()}; torch {version('torch')}", "",
             "| step | seconds | peak RSS (MiB) | notes |", "| --- | ---: | ---: | --- |"]
    lines.extend(f"| {step} | {seconds} | {peak} | {notes} |" for step, seconds, peak, notes in rows)
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def work_folder(work_dir: Path | None) -> Iterator[Path]:
    """``work_dir`` (kept), or a temporary folder removed afterwards; absolute, as the children run elsewhere."""
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        yield work_dir.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="m2_scale-") as temporary:
        yield Path(temporary)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python bench/m2_scale.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=positive_int, default=1_400_000, help="synthetic sessions (1400000)")
    parser.add_argument("--products", type=positive_int, default=500_000, help="synthetic products (500000)")
    parser.add_argument("--items", type=positive_int, default=500_000,
                        help="items of the embedding store and of the evaluation batch (500000)")
    parser.add_argument("--d2", type=positive_int, default=1024, help="LLM vector size (1024, the paper's AnglE)")
    parser.add_argument("--batch", type=positive_int, default=100, help="evaluation batch size (100)")
    parser.add_argument("--threads", type=positive_int, help="torch threads of the evaluation batch (torch's default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the files and vectors (0)")
    parser.add_argument("--work_dir", type=Path,
                        help="folder for the files (kept); default a temporary folder, removed at the end")
    parser.add_argument("--output", type=Path, help="also write the Markdown report to this file")
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    return parser


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Combinations argparse cannot check alone."""
    if args.items < 2:
        parser.error("--items must be at least 2 (the padding id and one item)")
    check_sessions(parser, args.sessions)


def check_sessions(parser: argparse.ArgumentParser, sessions: int) -> None:
    """Train, valid and test need one session each."""
    if sessions < 3:
        parser.error("--sessions must be at least 3 (train, valid and test need one session each)")


def publish_report(report: str, output: Path | None) -> None:
    """Print the Markdown report and, when ``output`` is given, also write it there."""
    print(report, end="")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.step is not None:
        print(json.dumps(STEPS[args.step](args)))
        return 0
    check_arguments(parser, args)
    with work_folder(args.work_dir) as work_dir:
        args.work_dir = work_dir
        try:
            rows = measure_all(args)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    report = format_report(rows, argv)
    publish_report(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
