"""Command-line glue for ``run_recbole_semsr.py --params_file=hyper.test``."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recbole_semsr.config import checked_config
from recbole_semsr.ray_cluster import add_ray_arguments, resources_from_args
from recbole_semsr.tuning.params import ParamSpec, parse_params_file
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
    group.add_argument("--ray_num_cpus", type=int, default=None, help="CPUs of the local Ray instance")
    group.add_argument("--ray_storage", default="ray_results", help="Ray Tune's storage_path")
    group.add_argument("--tune_output", default=None,
                       help="JSON report (default outputs/tuning/<model>-<dataset>.json); with several models or "
                       "datasets: the folder of the <model>-<dataset>.json reports")
    add_ray_arguments(parser, "Ray: where the trials run (a local Ray instance unless --ray_address is given)")


def names(text: str) -> list[str]:
    """``NISER,MSGAT`` -> ``["NISER", "MSGAT"]``."""
    return [name.strip() for name in text.split(",") if name.strip()]


def tune_from_args(
    args: argparse.Namespace,
    config_file_list: list[str] | None = None,
    config_dict: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the search for every model of ``args.model`` on every dataset of ``args.dataset`` (comma-separated),
    one search after the other, each printing its trial table and writing its JSON report. Returns the report of a
    single search, else ``{"<model>-<dataset>": report}``."""
    specs = parse_params_file(args.params_file)
    pairs = [(model, dataset) for dataset in names(args.dataset) for model in names(args.model)]
    for model, dataset in pairs:
        check_searched_settings(specs, args.params_file, model, dataset, config_file_list, config_dict)
    reports = {f"{model}-{dataset}": tune_one(specs, args, model, dataset, report_path(args, model, dataset, pairs),
                                               config_file_list, config_dict)
               for model, dataset in pairs}
    return next(iter(reports.values())) if len(reports) == 1 else reports


def check_searched_settings(specs: list[ParamSpec], params_file: str, model: str, dataset: str,
                            config_file_list: list[str] | None, config_dict: dict[str, Any] | None) -> None:
    """Before any trial: the searched names and the other settings pass the runner's checks (a misspelt
    `learnig_rate choice [...]` is refused naming the params file, not found in every trial)."""
    searched = {spec.name: int(spec.values[0]) if spec.yields_integers else spec.values[0] for spec in specs}
    checked_config(model, dataset, config_file_list, {**(config_dict or {}), **searched},
                   sources={name: f"params file {params_file}" for name in searched})


def report_path(args: argparse.Namespace, model: str, dataset: str, pairs: list[tuple[str, str]]) -> str:
    """``--tune_output`` for one search; else ``<--tune_output or outputs/tuning>/<model>-<dataset>.json``."""
    if args.tune_output and len(pairs) == 1:
        return args.tune_output
    return str(Path(args.tune_output or Path("outputs") / "tuning") / f"{model}-{dataset}.json")


def tune_one(specs: list[ParamSpec], args: argparse.Namespace, model: str, dataset: str, output: str,
             config_file_list: list[str] | None, config_dict: dict[str, Any] | None) -> dict[str, Any]:
    """One search of ``model`` on ``dataset`` with the resources and cluster of the command line."""
    resources = resources_from_args(args)
    options = TuneOptions(
        metric=args.tune_metric,
        mode=args.tune_mode,
        num_samples=args.num_samples,
        cpus_per_trial=resources.cpus_per_run,
        gpus_per_trial=resources.gpus_per_run,
        ray_address=resources.address,
        num_cpus=args.ray_num_cpus or resources.local_cpus,
        storage_path=args.ray_storage,
        output=output,
    )
    objective = quick_start_objective(model, dataset, config_file_list, config_dict, threads=resources.torch_threads)
    print(f"searching {model} on {dataset}")
    report = tune_hyperparameters(specs, objective, options)
    print(format_trials_table(report))
    print(f"report written to {output}")
    return report
