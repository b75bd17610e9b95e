"""Evaluate-only runs, and checkpoints bound to the data they were trained on (real ml-100k slice, one epoch)."""
import json
import shutil
from pathlib import Path

import pytest
import torch

from dataset_converters import ml100k
from recbole_semsr.cli import main
from recbole_semsr.provenance import CheckpointMismatchError
from recbole_semsr.quick_start import run
from recbole_semsr.tuning.ray_search import final_run_params, quick_start_objective

METRICS = ("recall@20", "mrr@20", "recall@100", "mrr@100")


@pytest.fixture(scope="module")
def trained(ml100k_slice, tmp_path_factory) -> str:
    """A NISER checkpoint trained one epoch on `ml100k_slice` (embedding size 20)."""
    folder = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        config = {"data_path": str(ml100k_slice), "checkpoint_dir": str(folder / "saved"), "epochs": 1,
                  "show_progress": False, "embedding_size": 20, "hidden_size": 20}
        return run("NISER", "ml-100k", config_dict=config, evaluate_test=False)["checkpoint"]


@pytest.fixture(scope="module")
def other_seed_split(ml100k_slice, tmp_path_factory) -> Path:
    """data_path holding the same ratings cut into sessions and split with seed 7 instead of 2025."""
    root = tmp_path_factory.mktemp("seed7")
    ml100k.convert(root / "ml-100k", seed=7, source_dir=ml100k_slice / "ml-100k-source")
    return root


@pytest.fixture(scope="module")
def reordered_test_file(ml100k_slice, tmp_path_factory) -> Path:
    """data_path holding the same split with the rows of the test file in reverse order."""
    root = tmp_path_factory.mktemp("reordered")
    shutil.copytree(ml100k_slice / "ml-100k", root / "ml-100k")
    test_file = root / "ml-100k" / "ml-100k.test.inter"
    header, *rows = test_file.read_text().splitlines(keepends=True)
    test_file.write_text(header + "".join(reversed(rows)))
    return root


def cli_args(config: dict) -> list[str]:
    return [f"--{key}={value}" for key, value in config.items()]


def test_evaluate_only_through_the_cli_writes_the_result_json(tiny_run_config, trained, tmp_path):
    result_file = tmp_path / "evaluated.json"
    main(["--model=NISER", "--dataset=ml-100k", f"--model_file={trained}", f"--result_file={result_file}",
          *cli_args(tiny_run_config)])
    result = json.loads(result_file.read_text())
    assert result["epochs"] == 0 and result["seconds_per_epoch"] is None and result["checkpoint"] == trained
    assert set(METRICS) <= set(result["test_result"]) and set(METRICS) <= set(result["best_valid_result"])


def test_zero_epochs_evaluates_the_untrained_model_and_writes_the_result_json(tiny_run_config, tmp_path):
    result_file = tmp_path / "untrained.json"
    main(["--model=NISER", "--dataset=ml-100k", f"--result_file={result_file}",
          *cli_args({**tiny_run_config, "epochs": 0})])
    result = json.loads(result_file.read_text())
    assert result["epochs"] == 0 and set(METRICS) <= set(result["best_valid_result"])
    assert set(METRICS) <= set(result["test_result"])


def test_checkpoint_records_its_data_and_loads_weights_only(trained, ml100k_slice):
    data = torch.load(trained, weights_only=True)["data"]
    assert data["model"] == "NISER" and data["dataset"] == "ml-100k"
    assert set(data["files"]) == {f"ml-100k.{part}.inter" for part in ("train", "valid", "test")}
    assert data["n_items"] > 100 and len(data["item_mapping_sha256"]) == 64


def test_checkpoint_of_another_seeds_split_is_refused_naming_both_sides(tiny_run_config, trained, other_seed_split):
    config = {**tiny_run_config, "data_path": str(other_seed_split), "model_file": trained}
    with pytest.raises(CheckpointMismatchError, match=r"ml-100k\.test\.inter sha256 [0-9a-f]{12} vs [0-9a-f]{12}") \
            as refused:
        run("NISER", "ml-100k", config_dict=config)
    assert trained in str(refused.value) and "--allow_split_mismatch" in str(refused.value)


def test_reordered_test_file_is_refused_unless_allowed_and_the_result_records_it(tiny_run_config, trained,
                                                                                reordered_test_file):
    config = {**tiny_run_config, "data_path": str(reordered_test_file), "model_file": trained}
    with pytest.raises(CheckpointMismatchError, match="ml-100k.test.inter"):
        run("NISER", "ml-100k", config_dict=config)
    result = run("NISER", "ml-100k", config_dict={**config, "allow_split_mismatch": True})
    assert result["split_mismatch"]["allowed_by"] == "allow_split_mismatch"
    assert any("ml-100k.test.inter" in line for line in result["split_mismatch"]["differences"])


def test_cli_flag_allows_a_split_mismatch(tiny_run_config, trained, reordered_test_file, tmp_path):
    result_file = tmp_path / "allowed.json"
    main(["--model=NISER", "--dataset=ml-100k", f"--model_file={trained}", "--allow_split_mismatch",
          f"--result_file={result_file}", *cli_args({**tiny_run_config, "data_path": reordered_test_file})])
    assert json.loads(result_file.read_text())["split_mismatch"]["differences"]


def test_reranker_trained_on_another_split_is_refused(tiny_run_config, trained, other_seed_split):
    config = {**tiny_run_config, "data_path": str(other_seed_split), "rerank_with": trained}
    with pytest.raises(CheckpointMismatchError, match="ml-100k.train.inter"):
        run("NISER", "ml-100k", config_dict=config)


def test_tunings_reload_of_the_chosen_trial_refuses_another_split(tiny_run_config, trained, other_seed_split):
    objective = quick_start_objective("NISER", "ml-100k", config_dict={**tiny_run_config,
                                                                       "data_path": str(other_seed_split)})
    with pytest.raises(CheckpointMismatchError, match="different data"):
        objective(final_run_params({"params": {"learning_rate": 0.001}, "checkpoint": trained}), True)


def test_checkpoint_of_another_shape_ends_with_one_line_not_a_torch_size_mismatch(tiny_run_config, trained):
    config = {**tiny_run_config, "embedding_size": 24, "hidden_size": 24, "model_file": trained}
    with pytest.raises(CheckpointMismatchError, match=r"item_embedding.weight is \[\d+, 20\] in the checkpoint, "
                                                      r"\[\d+, 24\] here") as refused:
        run("NISER", "ml-100k", config_dict=config)
    assert "\n" not in str(refused.value)


def test_checkpoint_of_another_model_is_refused(tiny_run_config, trained):
    with pytest.raises(CheckpointMismatchError, match="holds a NISER model, this run is GRU4Rec"):
        run("GRU4Rec", "ml-100k", config_dict={**tiny_run_config, "model_file": trained})
