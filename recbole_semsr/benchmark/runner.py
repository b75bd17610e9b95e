"""Run every (dataset, model, seed) through ``quick_start.run`` on the same splits, skipping finished runs."""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from recbole_semsr.benchmark.report import CURVE_KS
from recbole_semsr.benchmark.store import ResultsStore
from recbole_semsr.rerank import split_plus_name

RunFn = Callable[..., dict[str, Any]]
"""``run(model, dataset, config_file_list=..., config_dict=..., evaluate_test=True) -> result record``."""

BENCHMARK_TOPK = sorted({20, 100, *CURVE_KS})
"""Table 2 needs K = 20, 100; Figure 3 needs K = 50..500."""

# Every run is asked for the K values the table and the plot need (the user's config_dict may override them).
DEFAULT_BENCHMARK_CONFIG: dict[str, Any] = {"topk": BENCHMARK_TOPK, "metrics": ["Recall", "MRR"]}


@dataclass
class BenchmarkSummary:
    """Counts of one benchmark invocation and the failures (``dataset model seed: error``)."""

    ran: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)


def seed_list(count: int, base_seed: int = 2025) -> list[int]:
    """``count`` consecutive seeds starting at ``base_seed``."""
    if count < 1:
        raise ValueError(f"--seeds must be at least 1, got {count}")
    return [base_seed + offset for offset in range(count)]


def is_deterministic(model: str) -> bool:
    """True for the models fitted without gradient steps: the seed changes nothing, so they run once."""
    from recbole_semsr.model import get_model

    try:
        return not getattr(get_model(model), "trains_with_gradients", True)
    except (ValueError, ImportError, AttributeError):
        return False


def seeds_to_run(model: str, seeds: list[int]) -> list[int]:
    """Every seed, except for a deterministic model (and its "+" variants by a deterministic re-ranker): the first."""
    base, reranker = split_plus_name(model)
    if is_deterministic(base) and (reranker is None or is_deterministic(reranker)):
        return seeds[:1]
    return seeds


def stored_run(store: ResultsStore, model: str, dataset: str, seed: int, first_seed: int) -> dict[str, Any] | None:
    """The stored run of `model` for `seed` (for a deterministic model: its one run, under `first_seed`)."""
    return store.get(model, dataset, first_seed if is_deterministic(model) else seed)


def plus_variant(model: str, dataset: str, seed: int, store: ResultsStore,
                 first_seed: int | None = None) -> tuple[str, dict[str, Any]]:
    """For `X+` / `X+R`: evaluate the stored run of X with its top-K lists re-ranked by the stored run of NISER / R
    of the same seed (no training); both must be listed before the "+" name. Any other name: (name, {})."""
    base, reranker = split_plus_name(model)
    if reranker is None:
        return model, {}
    first = seed if first_seed is None else first_seed
    needed = {name: stored_run(store, name, dataset, seed, first) for name in (base, reranker)}
    missing = [name for name, record in needed.items() if record is None]
    if missing:
        raise ValueError(f"{model} needs stored runs of {' and '.join(missing)} for seed {seed}: list them before it")
    return base, {"model_file": needed[base]["checkpoint"], "rerank_with": needed[reranker]["checkpoint"]}


def run_benchmark(
    models: list[str],
    datasets: list[str],
    seeds: list[int],
    store: ResultsStore,
    run_fn: RunFn | None = None,
    config_file_list: list[str] | None = None,
    config_dict: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> BenchmarkSummary:
    """Run what the store lacks; a failing run is logged and counted, and the benchmark goes on. A stored record
    that is not valid (corrupt JSON, not a result) is moved aside and run again.

    ``provenance`` (e.g. the command and the machine) is stored with every record this call produces.
    """
    if run_fn is None:
        from recbole_semsr.quick_start import run as run_fn
    summary = BenchmarkSummary()
    for dataset in datasets:
        for model in models:
            for seed in seeds_to_run(model, seeds):
                set_aside = store.set_aside_unusable(model, dataset, seed)
                if set_aside:
                    log(set_aside)
                if store.has(model, dataset, seed):
                    summary.skipped += 1
                    continue
                label = f"{dataset} {model} seed {seed}"
                log(f"running {label}")
                merged = {**DEFAULT_BENCHMARK_CONFIG, **(config_dict or {}), "seed": seed}
                try:
                    run_model, rerank = plus_variant(model, dataset, seed, store, first_seed=seeds[0])
                    record = run_fn(run_model, dataset, config_file_list=config_file_list,
                                    config_dict={**merged, **rerank}, evaluate_test=True)
                except Exception as error:  # noqa: BLE001 - one failing run must not stop the benchmark
                    summary.failures.append(f"{label}: {type(error).__name__}: {error}")
                    log(f"FAILED {label}\n{traceback.format_exc()}")
                    continue
                store.save({**record, **(provenance or {})}, model, dataset, seed)
                summary.ran += 1
    return summary
