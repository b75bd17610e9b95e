"""Command-line glue for ``run_recbole_semsr.py --params_file=hyper.test``."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recbole_semsr.tuning.params import parse_params_file
from recbole_semsr.tuning.ray_search import (
    TuneOptions,
    format_trials_table,
    quick_start_objective,
    tune_hyperparameters,
)


def add_tuning_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the tuning options (``--params_file`` switches tuning on)."""
    group = parser.add_argument_group("hyperparameter search (Ray Tune)")
    group.add_argument("--params_file", default=None, help="RecBole params file, e.g. hyper.test; enables the search")
    group.add_argument("--tune_metric", default="recall@100", help="validation metric that picks the best trial")
    group.add_argument("--tune_mode", default="max", choices=("max", "min"))
    group.add_argument("--num_samples", type=int, default=1, help="samples of the continuous kinds (x grid size)")
    group.add_argument("--ray_address", default=None, help="join this Ray cluster instead of starting a local one")
    group.add_argument("--ray_num_cpus", type=int, default=None, help="CPUs of the local Ray instance")
    group.add_argument("--cpus_per_trial", type=float, default=1.0)
    group.add_argument("--gpus_per_trial", type=float, default=None, help="default: 1 when CUDA is visible, else 0")
    group.add_argument("--ray_storage", default="ray_results", help="Ray Tune's storage_path")
    group.add_argument("--tune_output", default=None,
                       help="JSON report (default outputs/tuning/<model>-<dataset>.json)")


def tune_from_args(
    args: argparse.Namespace,
    config_file_list: list[str] | None = None,
    config_dict: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the search for ``args.model`` on ``args.dataset``, print the trial table and write the JSON report."""
    specs = parse_params_file(args.params_file)
    output = args.tune_output or str(Path("outputs") / "tuning" / f"{args.model}-{args.dataset}.json")
    options = TuneOptions(
        metric=args.tune_metric,
        mode=args.tune_mode,
        num_samples=args.num_samples,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        ray_address=args.ray_address,
        num_cpus=args.ray_num_cpus,
        storage_path=args.ray_storage,
        output=output,
    )
    threads = max(1, int(args.cpus_per_trial))
    objective = quick_start_objective(args.model, args.dataset, config_file_list, config_dict, threads=threads)
    report = tune_hyperparameters(specs, objective, options)
    print(format_trials_table(report))
    print(f"report written to {output}")
    return report
