"""Run every (dataset, model, seed) through ``quick_start.run`` on the same splits, skipping finished runs."""
from __future__ import annotations

import bisect
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from recbole_semsr.benchmark.report import CURVE_KS
from recbole_semsr.benchmark.store import ResultsStore
from recbole_semsr.hybrid import split_hybrid_name
from recbole_semsr.rerank import split_plus_name

RunFn = Callable[..., dict[str, Any]]
"""``run(model, dataset, config_file_list=..., config_dict=..., evaluate_test=True) -> result record``."""

BENCHMARK_TOPK = sorted({20, 100, *CURVE_KS})
"""Table 2 needs K = 20, 100; Figure 3 needs K = 50..500."""

# Every run is asked for the K values the table and the plot need (the user's config_dict may override them).
DEFAULT_BENCHMARK_CONFIG: dict[str, Any] = {"topk": BENCHMARK_TOPK, "metrics": ["Recall", "MRR", "NDCG", "Hit"]}


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


def split_pair_name(model: str) -> tuple[str, str | None, str | None]:
    """`X+R` -> (X, R, "rerank_with"), `X~R` -> (X, R, "hybrid_with"), any other name -> (name, None, None)."""
    base, other = split_hybrid_name(model)
    if other is not None:
        return base, other, "hybrid_with"
    base, reranker = split_plus_name(model)
    return base, reranker, None if reranker is None else "rerank_with"


def seeds_to_run(model: str, seeds: list[int]) -> list[int]:
    """Every seed, except for a deterministic model (and its "+" variants and hybrids with a deterministic second
    model): the first."""
    base, reranker, _ = split_pair_name(model)
    if is_deterministic(base) and (reranker is None or is_deterministic(reranker)):
        return seeds[:1]
    return seeds


RunKey = tuple[str, str, int]
"""(dataset, model, seed)"""


def plus_variant(model: str, dataset: str, seed: int, store: ResultsStore,
                 first_seed: int | None = None) -> tuple[str, dict[str, Any]]:
    """For `X+` / `X+R`: evaluate the stored run of X with its top-K lists re-ranked by the stored run of NISER / R
    of the same seed; for `X~R`: the hybrid of the stored runs of X and R (no training); both must be listed before
    the pair's name. Any other name: (name, {})."""
    base, reranker, key = split_pair_name(model)
    if reranker is None:
        return model, {}
    first = seed if first_seed is None else first_seed
    needed = {name: store.get(name, dataset, run_seed)
              for _, name, run_seed in rerank_inputs(model, dataset, seed, first)}
    missing = [name for name, record in needed.items() if record is None]
    if missing:
        raise ValueError(f"{model} needs stored runs of {' and '.join(missing)} for seed {seed}: list them before it")
    return base, {"model_file": needed[base]["checkpoint"], key: needed[reranker]["checkpoint"]}


@dataclass(frozen=True)
class PlannedRun:
    """One (dataset, model, seed) of the grid; ``needs``: the positions of earlier planned runs it must wait for
    (an ``X+`` row waits for the runs it re-ranks; a name listed twice waits for its first listing)."""

    dataset: str
    model: str
    seed: int
    needs: frozenset[int] = frozenset()

    @property
    def key(self) -> RunKey:
        return self.dataset, self.model, self.seed

    @property
    def label(self) -> str:
        return f"{self.dataset} {self.model} seed {self.seed}"


@dataclass(frozen=True)
class RunJob:
    """What one run needs where it runs: ``run_fn(model, dataset, ...)`` with the run's config."""

    run_fn: RunFn
    model: str
    dataset: str
    config_file_list: list[str] | None
    config_dict: dict[str, Any]

    def execute(self, extra_config: dict[str, Any] | None = None) -> dict[str, Any]:
        """The result record; ``extra_config`` (e.g. the GPUs of a Ray task) is laid over the run's config."""
        return self.run_fn(self.model, self.dataset, config_file_list=self.config_file_list,
                           config_dict={**self.config_dict, **(extra_config or {})}, evaluate_test=True)


@dataclass(frozen=True)
class RunFailed:
    """A run that raised or was lost with its node: the one-line reason and the details (traceback) to log."""

    reason: str
    details: str

    @classmethod
    def from_exception(cls, error: BaseException) -> RunFailed:
        return cls(f"{type(error).__name__}: {error}", "".join(traceback.format_exception(error)))


Outcome = dict[str, Any] | RunFailed
"""The result record of a finished run, or why it failed."""


class RunExecutor(Protocol):
    """Where runs execute. ``retries``: how often a failed run is started again; ``shows_progress``: log the
    counts of done, running, failed and queued runs as they change."""

    retries: int
    shows_progress: bool

    def has_room(self) -> bool:
        """True when another run may start now."""

    def start(self, position: int, job: RunJob) -> None:
        """Start the planned run at ``position``."""

    def wait_finished(self) -> list[tuple[int, Outcome]]:
        """Block until at least one started run has finished; their positions and outcomes."""

    def running(self) -> int:
        """Started runs whose outcome ``wait_finished`` has not returned yet."""


class LocalExecutor:
    """Runs each job in this process when it is started, one after the other, without retries."""

    retries = 0
    shows_progress = False

    def __init__(self) -> None:
        self._finished: list[tuple[int, Outcome]] = []

    def has_room(self) -> bool:
        return not self._finished

    def start(self, position: int, job: RunJob) -> None:
        try:
            outcome: Outcome = job.execute()
        except Exception as error:  # noqa: BLE001 - one failing run must not stop the benchmark
            outcome = RunFailed.from_exception(error)
        self._finished.append((position, outcome))

    def wait_finished(self) -> list[tuple[int, Outcome]]:
        finished, self._finished = self._finished, []
        return finished

    def running(self) -> int:
        return len(self._finished)


def plan_runs(models: list[str], datasets: list[str], seeds: list[int]) -> list[PlannedRun]:
    """Every (dataset, model, seed) in the order given (deterministic models once), with what each waits for."""
    plan: list[PlannedRun] = []
    positions: dict[RunKey, list[int]] = {}
    for dataset in datasets:
        for model in models:
            for seed in seeds_to_run(model, seeds):
                waits_for = [(dataset, model, seed), *rerank_inputs(model, dataset, seed, seeds[0])]
                run = PlannedRun(dataset, model, seed,
                                 frozenset(position for key in waits_for for position in positions.get(key, [])))
                positions.setdefault(run.key, []).append(len(plan))
                plan.append(run)
    return plan


def rerank_inputs(model: str, dataset: str, seed: int, first_seed: int) -> list[RunKey]:
    """The runs an ``X+`` / ``X+R`` row re-ranks, or an ``X~R`` hybrid mixes: X and NISER / R of the same seed (a
    deterministic model's one run is stored under ``first_seed``); none for any other name."""
    base, reranker, _ = split_pair_name(model)
    if reranker is None:
        return []
    return [(dataset, name, first_seed if is_deterministic(name) else seed) for name in (base, reranker)]


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
    executor: RunExecutor | None = None,
) -> BenchmarkSummary:
    """Run what the store lacks; a failing run is logged and counted, and the benchmark goes on. A stored record
    that is not valid (corrupt JSON, not a result) is moved aside and run again.

    ``provenance`` (e.g. the command and the machine) is stored with every record this call produces.
    ``executor`` runs the jobs (default: one after the other in this process); whatever it is, this process alone
    writes the store.
    """
    if run_fn is None:
        from recbole_semsr.quick_start import run as run_fn
    base_config = {**DEFAULT_BENCHMARK_CONFIG, **(config_dict or {})}

    def job_for(run: PlannedRun) -> RunJob:
        run_model, rerank = plus_variant(run.model, run.dataset, run.seed, store, first_seed=seeds[0])
        return RunJob(run_fn, run_model, run.dataset, config_file_list, {**base_config, "seed": run.seed, **rerank})

    schedule = Schedule(plan_runs(models, datasets, seeds), store, executor or LocalExecutor(), job_for,
                        provenance or {}, log)
    return schedule.run()


class Schedule:
    """Starts the planned runs in order as soon as what they wait for has finished and the executor has room,
    retries failed runs as often as the executor allows, and saves each result as it arrives."""

    def __init__(self, plan: list[PlannedRun], store: ResultsStore, executor: RunExecutor,
                 job_for: Callable[[PlannedRun], RunJob], provenance: dict[str, Any],
                 log: Callable[[str], None]) -> None:
        self.plan = plan
        self.store = store
        self.executor = executor
        self.job_for = job_for
        self.provenance = provenance
        self.log = log
        self.queued = list(range(len(plan)))
        self.finished: set[int] = set()
        self.attempts = [0] * len(plan)
        self.summary = BenchmarkSummary()

    def run(self) -> BenchmarkSummary:
        while self.queued or self.executor.running():
            self.start_ready_runs()
            self.show_progress()
            if self.executor.running():
                for position, outcome in self.executor.wait_finished():
                    self.finish(position, outcome)
        self.show_progress()
        return self.summary

    def start_ready_runs(self) -> None:
        """In plan order: skip stored runs, start the runs whose inputs are done, while the executor has room."""
        for position in list(self.queued):
            if not self.executor.has_room():
                return
            if self.plan[position].needs <= self.finished:
                self.queued.remove(position)
                self.start(position)

    def start(self, position: int) -> None:
        run = self.plan[position]
        if self.attempts[position] == 0:
            set_aside = self.store.set_aside_unusable(run.model, run.dataset, run.seed)
            if set_aside:
                self.log(set_aside)
            if self.store.has(run.model, run.dataset, run.seed):
                self.summary.skipped += 1
                self.finished.add(position)
                return
            self.log(f"running {run.label}")
        self.attempts[position] += 1
        try:
            job = self.job_for(run)
        except Exception as error:  # noqa: BLE001 - e.g. an X+ row whose inputs are missing
            self.fail(position, RunFailed.from_exception(error))
            return
        self.executor.start(position, job)

    def finish(self, position: int, outcome: Outcome) -> None:
        run = self.plan[position]
        if not isinstance(outcome, RunFailed):
            self.store.save({**outcome, **self.provenance}, run.model, run.dataset, run.seed)
            self.summary.ran += 1
            self.finished.add(position)
        elif self.attempts[position] <= self.executor.retries:
            self.log(f"retrying {run.label} after {outcome.reason}")
            bisect.insort(self.queued, position)
        else:
            self.fail(position, outcome)

    def fail(self, position: int, failure: RunFailed) -> None:
        label = self.plan[position].label
        self.summary.failures.append(f"{label}: {failure.reason}")
        self.log(f"FAILED {label}\n{failure.details}")
        self.finished.add(position)

    def show_progress(self) -> None:
        if self.executor.shows_progress:
            summary = self.summary
            self.log(f"progress: {summary.ran} done, {self.executor.running()} running, {len(summary.failures)} "
                     f"failed, {len(self.queued)} queued, {summary.skipped} already stored")
