"""python -m recbole_semsr.benchmark --models=NISER,NARM --datasets=beauty --seeds=3 --output=DIR [--epochs=5 ...]

Runs every model on every dataset for each seed (skipping runs already in ``<output>/runs``), then writes
``<output>/report.md``, ``report.csv``, ``significance.csv`` and ``recall_at_k_<dataset>.png`` (with ``--data_path``
also ``breakdown.csv`` and ``breakdown_<dataset>.png``). Any other ``--key=value`` is a RecBole config override
applied to every run. ``--ray_address``, ``--parallel``, ``--cpus_per_run`` or ``--gpus_per_run``
make every run a Ray task (on a cluster, or on a local Ray instance).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import ContextManager

from recbole_semsr.benchmark.report import write_report
from recbole_semsr.benchmark.significance import ComparisonSettings
from recbole_semsr.benchmark.runner import LocalExecutor, RunExecutor, run_benchmark, seed_list
from recbole_semsr.benchmark.store import ResultsStore, load_result_files
from recbole_semsr.config import checked_config, positive_int
from recbole_semsr.preflight import OutputLocationError, check_writable_folder
from recbole_semsr.ray_cluster import (
    RayResources,
    RayResourcesError,
    RayUnreachableError,
    add_ray_arguments,
    ray_flags_given,
    resources_from_args,
)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recbole_semsr.benchmark", description=__doc__.split("\n\n")[1])
    parser.add_argument("--models", type=_names, default=[], help="comma-separated, e.g. NISER,MSGAT,NARM,SRGNN")
    parser.add_argument("--datasets", type=_names, default=[], help="comma-separated, e.g. beauty,kdd_m2_uk")
    parser.add_argument("--seeds", type=positive_int, default=1, help="number of seeds per (model, dataset)")
    parser.add_argument("--base_seed", type=int, default=2025, help="seeds are base_seed, base_seed+1, ...")
    parser.add_argument("--output", required=True, help="folder of the results store and the report")
    parser.add_argument("--config_files", nargs="*", default=None, help="extra YAML files for every run")
    parser.add_argument("--extra_results", nargs="*", default=[], help="more result JSONs for the table (e.g. LLM)")
    parser.add_argument("--plot_models", type=_names, default=None, help="models in the Recall@K plot (default all)")
    parser.add_argument("--report_only", action="store_true", help="only rebuild the report from stored results")
    add_report_arguments(parser)
    add_ray_arguments(parser, "Ray: any of these flags runs each (dataset, model, seed) as a Ray task")
    return parser


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The significance marks and breakdowns of the report (docs/tuning_and_benchmark.md)."""
    defaults = ComparisonSettings()
    group = parser.add_argument_group("report: significance and breakdowns")
    group.add_argument("--reference", default=defaults.reference,
                       help="row each cell is tested against: auto (per column the best --baselines row) or a model")
    group.add_argument("--baselines", type=_names, default=list(defaults.baselines),
                       help=f"rows --reference=auto chooses from (default {','.join(defaults.baselines)})")
    group.add_argument("--significance_alpha", type=float, default=defaults.alpha,
                       help="level of the marks, after Holm's correction")
    group.add_argument("--significance_resamples", type=int, default=defaults.resamples,
                       help="sign flips of the paired test")
    group.add_argument("--significance_seed", type=int, default=defaults.seed, help="seed of the sign flips")
    group.add_argument("--data_path", default=None,
                       help="folder of the datasets' atomic files: the runs' data_path, and the report's breakdowns")
    group.add_argument("--breakdown_models", type=_names, default=None, help="rows of the breakdowns (default all)")


def comparison_settings(args: argparse.Namespace) -> ComparisonSettings:
    """The report's test settings; a level outside (0, 1) or no resample stops with one line."""
    if not 0 < args.significance_alpha < 1 or args.significance_resamples < 1:
        raise SystemExit("error: --significance_alpha must lie in (0, 1), --significance_resamples be at least 1")
    return ComparisonSettings(args.reference, tuple(args.baselines), args.significance_alpha,
                              args.significance_resamples, args.significance_seed)


def executor_for(resources: RayResources | None) -> ContextManager[RunExecutor]:
    """Ray tasks when resources are given, else runs one after the other in this process."""
    if resources is None:
        return contextlib.nullcontext(LocalExecutor())
    from recbole_semsr.benchmark.ray_executor import RayExecutor

    return RayExecutor(resources)


def describe_machine() -> str:
    """CPU count, platform and the GPU torch sees (if any), for the report header."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.platform()}, {os.cpu_count()} CPUs, {gpu}, torch {torch.get_num_threads()} threads"


def check_before_any_run(models: list[str], datasets: list[str], config_file_list: list[str] | None,
                         config_dict: dict) -> None:
    """Every model name (both sides of `X+R` and `X~R`) is known and every run's settings pass the runner's checks,
    before the first run trains (an unknown name would otherwise fail only when its turn comes)."""
    from recbole_semsr.benchmark.runner import split_pair_name
    from recbole_semsr.model import get_model

    for name in models:
        base, second, _ = split_pair_name(name)
        get_model(base)
        if second is not None:
            get_model(second)
    for dataset in datasets:
        for name in models:
            checked_config(split_pair_name(name)[0], dataset, config_file_list, config_dict)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the report; exit status 1 when a run failed or an input was skipped."""
    from recbole_semsr.cli import INPUT_ERRORS, parse_overrides, split_config_files

    argv = sys.argv[1:] if argv is None else argv
    args, extra = build_parser().parse_known_args(argv)
    try:
        check_writable_folder(args.output, "--output")
    except OutputLocationError as error:
        raise SystemExit(f"error: {error}") from error
    settings = comparison_settings(args)
    store = ResultsStore(args.output)
    command = f"python -m recbole_semsr.benchmark {shlex.join(argv)}"
    machine = describe_machine()
    failures: list[str] = []
    if not args.report_only:
        if not args.models or not args.datasets:
            raise SystemExit("--models and --datasets are required (or --report_only)")
        config_file_list = split_config_files(args.config_files)
        config_dict = run_overrides(parse_overrides(extra), args)
        try:
            check_before_any_run(args.models, args.datasets, config_file_list, config_dict)
            resources = resources_from_args(args) if ray_flags_given(args) else None
            with executor_for(resources) as executor:
                summary = run_benchmark(args.models, args.datasets, seed_list(args.seeds, args.base_seed), store,
                                        config_file_list=config_file_list, config_dict=config_dict,
                                        provenance={"benchmark_command": command, "machine": machine},
                                        executor=executor)
        except (RayUnreachableError, RayResourcesError, *INPUT_ERRORS) as error:
            raise SystemExit(f"error: {error}") from error
        print(f"{summary.ran} runs done, {summary.skipped} already stored, {len(summary.failures)} failed")
        failures = summary.failures
    stored = store.load()
    extra_loaded = load_result_files([Path(path) for path in args.extra_results])
    records = stored.records + extra_loaded.records
    if not records:
        raise SystemExit(f"no result records in {store.runs_dir} or --extra_results")
    files = write_report(records, args.output, args.models, args.plot_models, report_header(command, machine, records),
                         settings, args.data_path, args.breakdown_models)
    skipped = stored.skipped + extra_loaded.skipped
    no_breakdowns = [] if args.data_path else ["no breakdowns: --data_path not given"]
    for line in [*failures, *skipped, *files.notes, *no_breakdowns]:
        print(f"note: {line}")
    print(files.markdown.read_text(encoding="utf-8"))
    print(f"wrote {files.markdown}, {files.csv}" + "".join(f", {path}" for path in files.tables + files.plots))
    return 1 if failures or skipped else 0


def run_overrides(overrides: dict, args: argparse.Namespace) -> dict:
    """The RecBole overrides of every run: the other ``--key=value`` options, and ``--data_path`` when given."""
    return {**overrides, "data_path": args.data_path} if args.data_path else overrides


def report_header(command: str, machine: str, records: list[dict]) -> str:
    """Title, the command that wrote the report, and the command and machine behind each group of runs."""
    producers: dict[tuple[str, str], int] = {}
    for record in records:
        key = (record.get("benchmark_command", "(not recorded)"), record.get("machine", "-"))
        producers[key] = producers.get(key, 0) + 1
    lines = ["# Benchmark", "", f"Report written by: `{command}` on {machine}", "", "Runs produced by:"]
    lines += [f"- {count} run(s): `{run_command}` on {run_machine}"
              for (run_command, run_machine), count in producers.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
