"""End to end: a 2-trial learning-rate grid through Ray Tune and the real quick_start.run (1 epoch, tiny ml-100k)."""
from __future__ import annotations

from pathlib import Path

from recbole_semsr.tuning.params import parse_params_text
from recbole_semsr.tuning.ray_search import TuneOptions, quick_start_objective, tune_hyperparameters


def tune_on_tiny_ml100k(model: str, params: str, config: dict, tmp_path: Path) -> dict:
    """The Ray Tune report of the grid `params` (params-file text) for `model` on the tiny ml-100k slice."""
    objective = quick_start_objective(model, "ml-100k", config_dict=config, threads=1)
    options = TuneOptions(num_cpus=2, gpus_per_trial=0, storage_path=str(tmp_path / "ray"),
                          output=str(tmp_path / "tuning.json"))
    return tune_hyperparameters(parse_params_text(params), objective, options)


def test_learning_rate_grid_on_tiny_ml100k(tiny_run_config: dict, tmp_path: Path) -> None:
    report = tune_on_tiny_ml100k("GRU4Rec", "learning_rate choice [0.01,0.001]\n", tiny_run_config, tmp_path)

    trials = report["trials"]
    assert [trial["status"] for trial in trials] == ["ok", "ok"], [trial["error"] for trial in trials]
    assert [trial["params"]["learning_rate"] for trial in trials] == [0.01, 0.001]
    assert all(0.0 <= trial["valid"]["recall@100"] <= 1.0 for trial in trials)
    best = max(trials, key=lambda trial: trial["valid"]["recall@100"])
    assert report["best_params"] == best["params"]
    assert report["final_result"]["config"]["learning_rate"] == best["params"]["learning_rate"]
    assert len({trial["checkpoint"] for trial in trials}) == 2  # parallel trials never share a checkpoint file
    assert report["tested_model"] == best["checkpoint"]
    assert report["final_result"]["epochs"] == 0  # the chosen trial's model is tested, not trained again
    assert report["final_result"]["best_valid_result"] == best["valid"]
    assert set(report["test_result"]) >= {"recall@20", "mrr@20", "recall@100", "mrr@100"}
    assert (tmp_path / "tuning.json").is_file()


def test_non_neural_baseline_grid_through_ray(tiny_run_config: dict, tmp_path: Path) -> None:
    report = tune_on_tiny_ml100k("SR", "sr_steps choice [1,5]\n", tiny_run_config, tmp_path)

    trials = report["trials"]
    assert [trial["status"] for trial in trials] == ["ok", "ok"], [trial["error"] for trial in trials]
    assert trials[0]["valid"] != trials[1]["valid"]  # the rules' window changes the scores
    best = max(trials, key=lambda trial: trial["valid"]["recall@100"])
    assert report["final_result"]["config"]["sr_steps"] == best["params"]["sr_steps"]
    assert report["final_result"]["best_valid_result"] == best["valid"]
