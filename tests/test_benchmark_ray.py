"""The benchmark as Ray tasks on a local Ray instance, with a stub trainer: retries, X+ order, progress, errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from recbole_semsr.benchmark.__main__ import main
from recbole_semsr.benchmark.runner import plan_runs, run_benchmark
from recbole_semsr.benchmark.store import ResultsStore
from recbole_semsr.ray_cluster import RayResources, RayResourcesError


class FlakyRun:
    """Stands in for quick_start.run in Ray workers; every call is logged as a file under ``calls``. ``fails_once``
    raises on its first call only, ``always_fails`` on every call."""

    def __init__(self, calls: Path, fails_once: str, always_fails: str) -> None:
        self.calls = calls
        self.fails_once = fails_once
        self.always_fails = always_fails

    def __call__(self, model: str, dataset: str, config_file_list: list[str] | None = None,
                 config_dict: dict[str, Any] | None = None, evaluate_test: bool = True) -> dict[str, Any]:
        seed = config_dict["seed"]
        earlier = list(self.calls.glob(f"{model}-{seed}-*"))
        (self.calls / f"{model}-{seed}-{len(earlier)}").write_text(json.dumps(config_dict))
        if model == self.always_fails or (model == self.fails_once and not earlier):
            raise RuntimeError(f"{model} diverged")
        return {"model": model, "dataset": dataset, "test_result": {"recall@20": 0.1},
                "checkpoint": f"{model}-{seed}.pth"}


@pytest.fixture
def picklable_test_module():
    """Ray workers cannot import tests/ modules: send this module's classes by value."""
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_ray_runs_retry_once_wait_for_their_inputs_and_show_progress(tmp_path: Path, picklable_test_module) -> None:
    from recbole_semsr.benchmark.ray_executor import RAN_ON_KEY, RayExecutor

    calls = tmp_path / "calls"
    calls.mkdir()
    store = ResultsStore(tmp_path / "bench")
    messages: list[str] = []
    models = ["NISER", "SemNISER_F", "SemNISER_F+", "SRGNN"]
    with RayExecutor(RayResources(parallel=2, gpus_per_run=0)) as executor:
        summary = run_benchmark(models, ["beauty"], [7], store, executor=executor, log=messages.append,
                                run_fn=FlakyRun(calls, fails_once="SemNISER_F", always_fails="SRGNN"))

    assert (summary.ran, summary.skipped) == (3, 0)
    assert summary.failures == ["beauty SRGNN seed 7: RuntimeError: SRGNN diverged"]
    assert sorted(path.name for path in calls.iterdir()) == [
        "NISER-7-0", "SRGNN-7-0", "SRGNN-7-1", "SemNISER_F-7-0", "SemNISER_F-7-1", "SemNISER_F-7-2"]
    plus_config = json.loads((calls / "SemNISER_F-7-2").read_text())  # the "+" row, after both of its inputs
    assert (plus_config["model_file"], plus_config["rerank_with"]) == ("SemNISER_F-7.pth", "NISER-7.pth")
    assert plus_config["gpu_id"] == ""
    assert "retrying beauty SemNISER_F seed 7 after RuntimeError: SemNISER_F diverged" in messages
    progress = [line for line in messages if line.startswith("progress: ")]
    assert progress[0] == "progress: 0 done, 2 running, 0 failed, 2 queued, 0 already stored"
    assert progress[-1] == "progress: 3 done, 0 running, 1 failed, 0 queued, 0 already stored"
    assert all(sum(counts.values()) == len(models) and counts["running"] <= 2 for counts in map(parse, progress))
    stored = store.get("SemNISER_F+", "beauty", 7)
    assert stored["model"] == "SemNISER_F" and set(stored[RAN_ON_KEY]) == {"node_id", "host", "pid"}


def parse(progress_line: str) -> dict[str, int]:
    """"progress: 1 done, 2 running, ..." -> {"done": 1, "running": 2, ...}."""
    pairs = (part.split(" ", 1) for part in progress_line.removeprefix("progress: ").split(", "))
    return {name: int(count) for count, name in pairs}


def test_plan_makes_plus_rows_wait_for_their_inputs() -> None:
    plan = plan_runs(["SemNISER_F+", "NISER", "SemNISER_F", "SemNISER_F+"], ["beauty"], [7])
    assert [(run.model, sorted(run.needs)) for run in plan] == [
        ("SemNISER_F+", []), ("NISER", []), ("SemNISER_F", []), ("SemNISER_F+", [0, 1, 2])]


def test_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--models=NISER", "--datasets=beauty", f"--output={tmp_path}", "--ray_address=127.0.0.1:1"])
    message = str(exit_info.value)
    assert message.startswith("error: cannot reach the Ray cluster at --ray_address=127.0.0.1:1 (")
    assert "\n" not in message and "ray start --head" in message


def test_resources_are_checked() -> None:
    with pytest.raises(RayResourcesError, match="--parallel must be at least 1, got 0"):
        RayResources(parallel=0)
    with pytest.raises(RayResourcesError, match="--cpus_per_run must be positive"):
        RayResources(cpus_per_run=0)
    assert RayResources(parallel=3, cpus_per_run=1.5).local_cpus == 5
    assert RayResources(cpus_per_run=0.5).torch_threads == 1


def test_without_ray_flags_the_runs_stay_in_this_process() -> None:
    from recbole_semsr.benchmark.__main__ import build_parser, executor_for
    from recbole_semsr.benchmark.runner import LocalExecutor
    from recbole_semsr.ray_cluster import ray_flags_given, resources_from_args

    plain = build_parser().parse_known_args(["--output=out", "--epochs=1"])[0]
    assert not ray_flags_given(plain)
    with executor_for(None) as executor:
        assert isinstance(executor, LocalExecutor)
    flagged = build_parser().parse_known_args(["--output=out", "--parallel=2", "--cpus_per_run=2",
                                               "--gpus_per_run=0.25"])[0]
    assert ray_flags_given(flagged)
    assert resources_from_args(flagged) == RayResources(parallel=2, cpus_per_run=2.0, gpus_per_run=0.25)
    assert resources_from_args(flagged).local_cpus == 4
