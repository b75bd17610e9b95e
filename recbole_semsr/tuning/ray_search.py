"""Hyperparameter search with Ray Tune (2.6 API) that selects on VALIDATION metrics only.

Each trial trains on train and keeps its best epoch on valid (``quick_start.run(..., evaluate_test=False)``) and
reports only validation metrics and the path of its best-epoch checkpoint. The best trial is chosen on ``metric``
(default valid ``recall@100``, the paper's criterion); only that trial's model is then evaluated on test, loaded from
its checkpoint (trained again only where the checkpoint cannot be read, e.g. on another node of a cluster). A trial
that raises is recorded with its error and the sweep goes on. RecBole's own Ray path reports the test result to Tune, i.e. selects on test; this module does not.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from recbole_semsr.io import write_json
from recbole_semsr.ray_cluster import RayResources, connect_ray, pin_assigned_gpus, visible_gpu_config
from recbole_semsr.tuning.params import ParamSpec

Objective = Callable[[dict[str, Any], bool], dict[str, Any]]
"""``objective(params, evaluate_test) -> result`` where ``result`` follows ``quick_start.run``'s result contract
(``best_valid_result``, ``test_result`` ...)."""

VALID_PREFIX = "valid_"
CHECKPOINT_KEY = "checkpoint"


@dataclass
class TuneOptions:
    """How the search runs. ``gpus_per_trial=None`` gives each trial one GPU when CUDA is visible, else none."""

    metric: str = "recall@100"
    mode: str = "max"
    num_samples: int = 1
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None
    ray_address: str | None = None
    num_cpus: int | None = None
    storage_path: str = "ray_results"
    experiment_name: str | None = None
    output: str | None = None

    def __post_init__(self) -> None:
        self.metric = self.metric.lower()  # RecBole's result keys are lower-case ("Recall@100" -> "recall@100")
        if self.mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {self.mode!r}")


def to_search_space(specs: list[ParamSpec]) -> dict[str, Any]:
    """Ray Tune search space: ``choice`` becomes an exhaustive grid, the other kinds hyperopt-style distributions."""
    from ray import tune

    space: dict[str, Any] = {}
    for spec in specs:
        if spec.kind == "choice":
            space[spec.name] = tune.grid_search(list(spec.values))
        elif spec.kind == "uniform":
            space[spec.name] = tune.uniform(*spec.values)
        elif spec.kind == "quniform":
            space[spec.name] = tune.quniform(*spec.values)
        elif spec.kind == "loguniform":
            low, high = spec.values
            space[spec.name] = tune.loguniform(math.exp(low), math.exp(high))
        elif spec.kind == "qloguniform":
            low, high, step = spec.values
            space[spec.name] = tune.qloguniform(math.exp(low), math.exp(high), step)
        else:
            raise ValueError(f"unsupported parameter kind {spec.kind!r} for {spec.name!r}")
    return space


def quick_start_objective(
    model: str,
    dataset: str,
    config_file_list: list[str] | None = None,
    config_dict: dict[str, Any] | None = None,
    threads: int | None = None,
) -> Objective:
    """The real objective: ``quick_start.run`` with the trial's parameters laid over ``config_dict``."""
    return functools.partial(
        _run_quick_start,
        model=model,
        dataset=dataset,
        config_file_list=config_file_list,
        config_dict=dict(config_dict or {}),
        threads=threads,
    )


def _run_quick_start(
    params: dict[str, Any],
    evaluate_test: bool,
    *,
    model: str,
    dataset: str,
    config_file_list: list[str] | None,
    config_dict: dict[str, Any],
    threads: int | None,
) -> dict[str, Any]:
    import torch

    from recbole_semsr.quick_start import run

    if threads:
        torch.set_num_threads(threads)
    merged = {**config_dict, **visible_gpu_config(), **params}
    return run(model, dataset, config_file_list=config_file_list, config_dict=merged, evaluate_test=evaluate_test)


def trial_params(config: dict[str, Any], names: list[str], integer_names: frozenset[str]) -> dict[str, Any]:
    """The searched parameters of a trial's config, whole-number kinds as ``int``."""
    params = {name: config.get(name) for name in names}
    for name in integer_names:
        if params.get(name) is not None:
            params[name] = int(round(params[name]))
    return params


def _trainable(config: dict[str, Any], objective: Objective, names: list[str], integer_names: frozenset[str]) -> None:
    """Ray function trainable: one training run on the GPUs Ray assigned (none: CPU), reporting only validation
    metrics (prefixed ``valid_``) and the absolute path of the run's checkpoint."""
    from ray.air import session

    pin_assigned_gpus()
    result = objective(trial_params(config, names, integer_names), False)
    valid = result.get("best_valid_result") or {}
    report: dict[str, Any] = {VALID_PREFIX + key: float(value) for key, value in valid.items()}
    if result.get(CHECKPOINT_KEY):
        report[CHECKPOINT_KEY] = str(Path(result[CHECKPOINT_KEY]).resolve())
    session.report(report)


def tune_hyperparameters(
    specs: list[ParamSpec], objective: Objective, options: TuneOptions | None = None
) -> dict[str, Any]:
    """Run the search, then evaluate only the chosen trial on test: its saved model, or the configuration trained
    again (same seed) when the trial left no readable checkpoint.

    Returns (and writes to ``options.output``, first without the test result, so a failing final run keeps the
    trial table) ``{"metric", "mode", "trials": [{"trial", "params", "status", "valid", "error"}], "best_params",
    "best_valid_result", "test_result", "final_result", "tested_model"}`` (``tested_model``: the checkpoint tested, or
    "trained again"); trial rows also hold their ``checkpoint`` (or None).
    """
    options = options or TuneOptions()
    trials = run_trials(specs, objective, options)
    best = select_best_trial(trials, options.metric, options.mode)
    report = {
        "metric": options.metric,
        "mode": options.mode,
        "trials": trials,
        "best_params": best["params"],
        "best_valid_result": best["valid"],
        "test_result": None,
        "final_result": None,
        "tested_model": None,
    }
    if options.output:
        write_tuning_report(report, options.output)
    final_params = final_run_params(best)
    final = objective(final_params, True)
    report.update(test_result=final.get("test_result"), final_result=final,
                  tested_model=final_params.get("model_file", "trained again"))
    if options.output:
        write_tuning_report(report, options.output)
    return report


def final_run_params(best: dict[str, Any]) -> dict[str, Any]:
    """The chosen trial's parameters, plus its checkpoint as ``model_file`` when that file can be read here, so the
    test evaluation loads the trained model instead of training it again."""
    checkpoint = best.get(CHECKPOINT_KEY)
    if checkpoint and Path(checkpoint).is_file():
        return {**best["params"], "model_file": checkpoint}
    return dict(best["params"])


def run_trials(specs: list[ParamSpec], objective: Objective, options: TuneOptions) -> list[dict[str, Any]]:
    """Run every trial with Ray Tune; one row per trial in grid order, failed trials included."""
    from ray import air, tune

    names = [spec.name for spec in specs]
    integer_names = frozenset(spec.name for spec in specs if spec.yields_integers)
    started_ray = connect_ray(options.ray_address, options.num_cpus)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, objective=objective, names=names, integer_names=integer_names),
            {"cpu": options.cpus_per_trial, "gpu": _gpus_per_trial(options)},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=to_search_space(specs),
            tune_config=tune.TuneConfig(
                metric=VALID_PREFIX + options.metric,
                mode=options.mode,
                num_samples=options.num_samples,
                chdir_to_trial_dir=False,
            ),
            run_config=air.RunConfig(
                storage_path=_storage_path(options.storage_path),
                name=options.experiment_name,
                verbose=0,
                failure_config=air.FailureConfig(max_failures=0),
            ),
        )
        results = sorted(tuner.fit(), key=lambda result: result.path or "")
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    return [_trial_row(index, result, names, integer_names) for index, result in enumerate(results)]


def _storage_path(path: str) -> str:
    """Ray Tune wants an absolute local path; a URI (``s3://...``, shared storage of a cluster) passes unchanged."""
    return path if "://" in path else str(Path(path).resolve())


def _gpus_per_trial(options: TuneOptions) -> float:
    return RayResources(gpus_per_run=options.gpus_per_trial).gpus()


def _trial_row(index: int, result: Any, names: list[str], integer_names: frozenset[str]) -> dict[str, Any]:
    metrics = result.metrics or {}
    valid = {key[len(VALID_PREFIX):]: value for key, value in metrics.items() if key.startswith(VALID_PREFIX)}
    if result.error is not None:
        status, error = "error", _last_line(str(result.error))
    elif not valid:
        status, error = "no result", None
    else:
        status, error = "ok", None
    return {
        "trial": index,
        "params": trial_params(result.config or {}, names, integer_names),
        "status": status,
        "valid": valid,
        "error": error,
        CHECKPOINT_KEY: metrics.get(CHECKPOINT_KEY),
    }


def _last_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else message


def select_best_trial(trials: list[dict[str, Any]], metric: str, mode: str) -> dict[str, Any]:
    """The finished trial with the best validation ``metric`` (first one on ties); NaN counts as worst."""
    candidates = [trial for trial in trials if trial["status"] == "ok" and _is_number(trial["valid"].get(metric))]
    if not candidates:
        reported = sorted({key for trial in trials for key in trial["valid"]})
        raise RuntimeError(
            f"no trial finished with a validation '{metric}' "
            f"({len(trials)} trials, {sum(t['status'] == 'error' for t in trials)} failed; "
            f"reported metrics: {reported or 'none'})"
        )
    sign = 1.0 if mode == "max" else -1.0
    return max(candidates, key=lambda trial: sign * trial["valid"][metric])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value)


def format_trials_table(report: dict[str, Any]) -> str:
    """Plain-text table of all trials (parameters, status, validation metrics) and the chosen configuration."""
    trials = report["trials"]
    param_names = list(trials[0]["params"]) if trials else []
    metric_names = sorted({key for trial in trials for key in trial["valid"]})
    header = ["trial", *param_names, "status", *(f"valid {name}" for name in metric_names)]
    rows = [
        [
            str(trial["trial"]),
            *(str(trial["params"][name]) for name in param_names),
            trial["status"] if trial["error"] is None else f"error: {trial['error']}",
            *(_format_metric(trial["valid"].get(name)) for name in metric_names),
        ]
        for trial in trials
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in [header, *rows]]
    lines.append(f"best on valid {report['metric']} ({report['mode']}): {report['best_params']}")
    lines.append(f"test result of the chosen configuration ({report.get('tested_model')}): {report['test_result']}")
    return "\n".join(lines)


def _format_metric(value: Any) -> str:
    return f"{value:.4f}" if _is_number(value) else "-"


def write_tuning_report(report: dict[str, Any], path: str | Path) -> None:
    """Write the tuning report as JSON (creating parent folders, atomically)."""
    write_json(path, report, default=str)
