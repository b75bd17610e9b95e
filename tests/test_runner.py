"""End-to-end runs through the runner on a real ml-100k slice (users 1..12), one epoch each."""
import json
import logging
import os
from pathlib import Path

import pytest
import recbole.trainer.trainer
import recbole.utils.logger
import torch

from recbole_semsr.cli import main, parse_overrides
from recbole_semsr.config import SemSRConfig
from recbole_semsr.quick_start import run, start_run_log

METRICS = ("recall@20", "mrr@20", "recall@100", "mrr@100")


def cli_args(config: dict) -> list[str]:
    return [f"--{key}={value}" for key, value in config.items()]


def test_niser_through_the_cli_writes_the_result_json(tiny_run_config, tmp_path):
    result_file = tmp_path / "out" / "niser.json"
    main(["--model=NISER", "--dataset=ml-100k", f"--result_file={result_file}", *cli_args(tiny_run_config)])
    result = json.loads(result_file.read_text())
    assert result["model"] == "NISER" and result["dataset"] == "ml-100k"
    for split in ("best_valid_result", "test_result"):
        assert set(METRICS) <= set(result[split])
        assert all(0.0 <= result[split][key] <= 1.0 for key in METRICS)
        assert result[split]["recall@20"] <= result[split]["recall@100"]
    assert result["seconds_per_epoch"] > 0 and result["eval_seconds"] > 0 and result["epochs"] == 1
    assert result["config"]["embedding_size"] == 20 and result["config"]["sigma"] == 16.0


def test_same_seed_gives_same_metrics_and_checkpoint_loads_weights_only(tiny_run_config):
    first = run("NISER", "ml-100k", config_dict=tiny_run_config)
    second = run("NISER", "ml-100k", config_dict=tiny_run_config)
    assert first["test_result"] == second["test_result"]
    assert first["best_valid_result"] == second["best_valid_result"]
    checkpoint = torch.load(first["checkpoint"], weights_only=True)
    assert checkpoint["config"]["model"] == "NISER"
    assert "item_embedding.weight" in checkpoint["state_dict"]
    reloaded = run("NISER", "ml-100k", config_dict={**tiny_run_config, "model_file": first["checkpoint"]})
    assert reloaded["epochs"] == 0 and reloaded["test_result"] == first["test_result"]


def test_a_recbole_core_model_runs_through_the_same_entry_point(tiny_run_config):
    result = run("GRU4Rec", "ml-100k", config_dict=tiny_run_config)
    assert result["model"] == "GRU4Rec"
    assert set(METRICS) <= set(result["test_result"])


def test_overrides_are_parsed_as_literals_without_eval():
    overrides = parse_overrides(["--epochs=1", "--learning_rate=1e-3", "--topk=[20,100]", "--x=__import__('os')"])
    assert overrides == {"epochs": 1, "learning_rate": 0.001, "topk": [20, 100], "x": "__import__('os')"}
    with pytest.raises(SystemExit, match="expected --key=value"):
        parse_overrides(["epochs"])


def test_each_run_in_one_process_logs_to_its_own_file(tiny_run_config, monkeypatch):
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    for model in ("NISER", "GRU4Rec"):
        start_run_log(SemSRConfig(model, "ml-100k", None, tiny_run_config))
        logging.getLogger().info(f"message of the {model} run")
    for model, other in (("NISER", "GRU4Rec"), ("GRU4Rec", "NISER")):
        (log_file,) = Path("log", model).glob("*.log")
        text = log_file.read_text()
        assert f"message of the {model} run" in text and f"message of the {other} run" not in text


def test_log_and_checkpoint_folders_exist_before_recboles_check_then_create(tiny_run_config, monkeypatch):
    """RecBole's `ensure_dir` checks for a folder, then creates it; a parallel run (tuning trial) that creates it in
    between makes it raise FileExistsError. `lost_the_race` is that outcome whenever the folder is not there yet."""
    def lost_the_race(path):
        if not os.path.isdir(path):
            raise FileExistsError(path)

    monkeypatch.setattr(recbole.utils.logger, "ensure_dir", lost_the_race)
    monkeypatch.setattr(recbole.trainer.trainer, "ensure_dir", lost_the_race)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    config = {**tiny_run_config, "checkpoint_dir": str(Path("fresh", "saved").resolve())}
    result = run("NISER", "ml-100k", config_dict=config, evaluate_test=False)
    assert Path(result["checkpoint"]).is_file() and Path(result["checkpoint"]).parent == Path(config["checkpoint_dir"])
    assert list(Path("log", "NISER").glob("*.log"))


@pytest.mark.parametrize("model", ["NISER", "SemNISER_F", "GRU4Rec", "STAN"])
def test_default_run_follows_the_documented_protocol(model):
    """docs/results: stop at the 3rd epoch in a row without a better valid Recall@100; full ranking, lr 0.001."""
    config = SemSRConfig(model, "ml-100k")
    assert config["stopping_step"] == 2
    assert config["valid_metric"] == "Recall@100"
    assert (config["learning_rate"], config["train_batch_size"]) == (0.001, 100)
    assert config["eval_args"]["mode"] == {"valid": "full", "test": "full"}


def test_config_files_as_one_space_separated_string_or_several_words(tmp_path):
    from recbole_semsr.cli import build_parser, split_config_files

    for argv in (["--config_files=a.yaml b.yaml"], ["--config_files", "a.yaml", "b.yaml"]):
        args, _ = build_parser().parse_known_args(["--model=NISER", "--dataset=ml-100k", *argv])
        assert split_config_files(args.config_files) == ["a.yaml", "b.yaml"]


def test_help_lists_the_most_used_keys_and_they_become_overrides(capsys):
    from recbole_semsr.cli import build_parser, common_key_overrides

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    help_text = capsys.readouterr().out
    for key in ("--epochs", "--model_file", "--rerank_with", "--gpu_id", "--checkpoint_dir", "--resume"):
        assert key in help_text
    args, extra = build_parser().parse_known_args(["-m", "NISER", "-d", "x", "--epochs=2", "--resume=c.pth", "--a=1",
                                                   "--tune=3"])  # prefixes of our flags stay overrides
    assert parse_overrides(common_key_overrides(args) + extra) == {"epochs": 2, "resume_file": "c.pth", "a": 1,
                                                                   "tune": 3}


def test_resume_continues_from_a_checkpoint_without_changing_it(tiny_run_config):
    first = run("NISER", "ml-100k", config_dict=tiny_run_config)
    before = Path(first["checkpoint"]).read_bytes()
    resumed = main(["--model=NISER", "--dataset=ml-100k", f"--resume={first['checkpoint']}",
                    *cli_args({**tiny_run_config, "epochs": 2})])
    assert resumed["epochs"] == 1  # epoch 0 came from the checkpoint
    assert resumed["checkpoint"] != first["checkpoint"]
    assert Path(first["checkpoint"]).read_bytes() == before


def test_session_items_are_masked_only_when_asked():
    from recbole_semsr.rerank import mask_session_items

    scores = torch.arange(12, dtype=torch.float).view(2, 6)
    masked = mask_session_items(scores.clone(), torch.tensor([[5, 2, 0], [1, 0, 0]]))
    assert torch.isinf(masked[0, [0, 2, 5]]).all() and torch.isinf(masked[1, [0, 1]]).all()
    assert torch.equal(masked[0, [1, 3, 4]], scores[0, [1, 3, 4]])


def test_excluding_session_items_never_lowers_the_metrics(tiny_run_config):
    trained = run("NISER", "ml-100k", config_dict=tiny_run_config)
    masked = run("NISER", "ml-100k", config_dict={**tiny_run_config, "model_file": trained["checkpoint"],
                                                  "exclude_session_items": True})
    for key, value in trained["test_result"].items():
        assert masked["test_result"][key] >= value - 1e-9
    assert masked["config"]["exclude_session_items"] is True
