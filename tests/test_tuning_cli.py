"""The --params_file options of run_recbole_semsr.py reach the search as parsed (the search itself is stubbed)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from recbole_semsr.tuning import cli
from recbole_semsr.tuning.params import ParamSpec


def test_tune_from_args_maps_every_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "hyper.test"
    params.write_text("learning_rate choice [0.01,0.001]\n")
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--dataset")
    cli.add_tuning_arguments(parser)
    args = parser.parse_args(["--model=NISER", "--dataset=beauty", f"--params_file={params}", "--tune_metric=mrr@20",
                              "--ray_address=10.0.0.1:6379", "--cpus_per_trial=4", "--gpus_per_trial=0.5"])
    seen: dict[str, Any] = {}

    def fake_search(specs: list[ParamSpec], objective: Any, options: Any) -> dict[str, Any]:
        seen.update(specs=specs, objective=objective, options=options)
        return {"metric": options.metric, "mode": options.mode, "best_params": {"learning_rate": 0.001},
                "test_result": {"mrr@20": 0.07},
                "trials": [{"trial": 0, "params": {"learning_rate": 0.001}, "status": "ok",
                            "valid": {"mrr@20": 0.06}, "error": None}]}

    monkeypatch.setattr(cli, "tune_hyperparameters", fake_search)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("seed: 7\n", encoding="utf-8")  # the settings are checked before the search
    cli.tune_from_args(args, config_file_list=["a.yaml"], config_dict={"epochs": 2})

    assert seen["specs"] == [ParamSpec("learning_rate", "choice", (0.01, 0.001))]
    options = seen["options"]
    assert (options.metric, options.mode, options.ray_address) == ("mrr@20", "max", "10.0.0.1:6379")
    assert (options.cpus_per_trial, options.gpus_per_trial) == (4.0, 0.5)
    assert options.output == str(Path("outputs") / "tuning" / "NISER-beauty.json")
    assert seen["objective"].keywords == {"model": "NISER", "dataset": "beauty", "config_file_list": ["a.yaml"],
                                          "config_dict": {"epochs": 2}, "threads": 4}
    out = capsys.readouterr().out
    assert "best on valid mrr@20 (max): {'learning_rate': 0.001}" in out


def test_one_sweep_command_covers_several_models_and_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "hyper.test"
    params.write_text("learning_rate choice [0.01]\n")
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--dataset")
    cli.add_tuning_arguments(parser)
    args = parser.parse_args(["--model=NISER,GRU4Rec", "--dataset=beauty,ml-100k", f"--params_file={params}",
                              "--parallel=3", "--cpus_per_run=2", "--gpus_per_run=0.5", f"--tune_output={tmp_path}"])
    searched: list[tuple[str, str, Any]] = []

    def fake_search(specs: list[ParamSpec], objective: Any, options: Any) -> dict[str, Any]:
        searched.append((objective.keywords["model"], objective.keywords["dataset"], options))
        return {"metric": options.metric, "mode": options.mode, "best_params": {"learning_rate": 0.01},
                "test_result": {}, "trials": []}

    monkeypatch.setattr(cli, "tune_hyperparameters", fake_search)
    reports = cli.tune_from_args(args)

    assert [(model, dataset) for model, dataset, _ in searched] == [
        ("NISER", "beauty"), ("GRU4Rec", "beauty"), ("NISER", "ml-100k"), ("GRU4Rec", "ml-100k")]
    assert sorted(reports) == ["GRU4Rec-beauty", "GRU4Rec-ml-100k", "NISER-beauty", "NISER-ml-100k"]
    options = searched[-1][2]
    assert (options.num_cpus, options.cpus_per_trial, options.gpus_per_trial) == (6, 2.0, 0.5)
    assert options.output == str(tmp_path / "GRU4Rec-ml-100k.json")
    assert "searching GRU4Rec on ml-100k" in capsys.readouterr().out
