"""Ray Tune search with a stub objective: selection on validation, test only for the chosen trial, crash tolerance."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from recbole_semsr.tuning.params import parse_params_text
from recbole_semsr.tuning.ray_search import (
    TuneOptions,
    final_run_params,
    format_trials_table,
    select_best_trial,
    tune_hyperparameters,
)

# lr 0.01 raises; of the rest, 0.001 is best on valid Recall@100 and 0.1 on test: selecting on test would pick 0.1.
VALID_RECALL = {0.1: 0.20, 0.01: 0.35, 0.001: 0.30, 0.0001: 0.10}
TEST_RECALL = {0.1: 0.50, 0.01: 0.31, 0.001: 0.33, 0.0001: 0.09}
VALID_MRR = {0.1: 0.05, 0.01: 0.04, 0.001: 0.03, 0.0001: 0.02}
GRID = "learning_rate choice [0.1,0.01,0.001,0.0001]\n"
CHOSEN_LR = 0.001


def stub_objective(params: dict[str, Any], evaluate_test: bool) -> dict[str, Any]:
    """Stands in for quick_start.run: fixed metrics per learning rate; only the chosen lr may be tested."""
    lr = params["learning_rate"]
    if evaluate_test and lr != CHOSEN_LR:
        raise AssertionError(f"test set evaluated for lr {lr}, which is not the chosen configuration")
    return {
        "best_valid_result": {"recall@100": VALID_RECALL[lr], "mrr@100": VALID_MRR[lr]},
        "test_result": {"recall@100": TEST_RECALL[lr]} if evaluate_test else None,
    }


def crashing_objective(params: dict[str, Any], evaluate_test: bool) -> dict[str, Any]:
    if params["learning_rate"] == 0.01:
        raise FloatingPointError("loss is nan at lr 0.01")
    return stub_objective(params, evaluate_test)


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/ modules
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def options(tmp_path: Path, **overrides: Any) -> TuneOptions:
    return TuneOptions(gpus_per_trial=0, storage_path=str(tmp_path / "ray"), output=str(tmp_path / "report.json"),
                       **overrides)


def test_sweep_selects_on_validation_and_survives_a_crashing_trial(local_ray, tmp_path: Path) -> None:
    """One Ray sweep (start-up is ~10 s): lr 0.01 raises, 0.1 is best on test, 0.001 is best on valid."""
    report = tune_hyperparameters(parse_params_text(GRID), crashing_objective, options(tmp_path))

    trials = report["trials"]
    assert [trial["params"]["learning_rate"] for trial in trials] == [0.1, 0.01, 0.001, 0.0001]
    assert [trial["status"] for trial in trials] == ["ok", "error", "ok", "ok"]
    assert "loss is nan at lr 0.01" in trials[1]["error"]
    assert [trial["valid"].get("recall@100") for trial in trials] == [0.20, None, 0.30, 0.10]
    assert report["best_params"] == {"learning_rate": 0.001}
    assert report["best_valid_result"] == {"recall@100": 0.30, "mrr@100": 0.03}
    assert report["test_result"] == {"recall@100": 0.33}
    assert report["tested_model"] == "trained again"  # the stub leaves no checkpoint
    assert [trial["checkpoint"] for trial in trials] == [None] * 4
    assert json.loads((tmp_path / "report.json").read_text())["best_params"] == {"learning_rate": 0.001}
    table = format_trials_table(report)
    assert "valid recall@100" in table and "0.3000" in table and "error: " in table
    assert "{'learning_rate': 0.001}" in table


def test_select_best_trial_metric_mode_and_failures() -> None:
    trials = [
        {"trial": 0, "status": "ok", "valid": {"recall@100": 0.2, "mrr@100": 0.05}},
        {"trial": 1, "status": "error", "valid": {}},
        {"trial": 2, "status": "ok", "valid": {"recall@100": float("nan"), "mrr@100": 0.01}},
        {"trial": 3, "status": "ok", "valid": {"recall@100": 0.3, "mrr@100": 0.02}},
    ]
    assert select_best_trial(trials, "recall@100", "max")["trial"] == 3
    assert select_best_trial(trials, "mrr@100", "min")["trial"] == 2
    with pytest.raises(RuntimeError, match="no trial finished with a validation 'ndcg@10'.*1 failed"):
        select_best_trial(trials, "ndcg@10", "max")


def test_options_lower_case_the_metric_and_check_the_mode() -> None:
    assert TuneOptions(metric="Recall@100").metric == "recall@100"
    with pytest.raises(ValueError, match="mode must be 'max' or 'min', got 'maximum'"):
        TuneOptions(mode="maximum")


def test_final_run_loads_the_chosen_trials_checkpoint_when_it_exists(tmp_path: Path) -> None:
    saved = tmp_path / "NISER-best.pth"
    saved.write_bytes(b"state")
    best = {"params": {"learning_rate": 0.001}, "checkpoint": str(saved)}
    assert final_run_params(best) == {"learning_rate": 0.001, "model_file": str(saved)}
    assert final_run_params({**best, "checkpoint": str(tmp_path / "on-another-node.pth")}) == {"learning_rate": 0.001}
    assert final_run_params({**best, "checkpoint": None}) == {"learning_rate": 0.001}
