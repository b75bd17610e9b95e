"""The runner's command line fails early, with one line, on input it cannot use."""
from pathlib import Path

import pytest

from recbole_semsr.cli import main
from recbole_semsr.trainer import SemSRTrainer


def cli_args(config: dict) -> list[str]:
    return [f"--{key}={value}" for key, value in config.items()]


def test_unknown_model_lists_the_known_models_and_the_closest():
    with pytest.raises(SystemExit, match=r"unknown model 'SemNISR_F' \(closest: SemNISER_F\)\. Known: .*NISER.*"
                                         r"GRU4Rec"):
        main(["--model=SemNISR_F", "--dataset=ml-100k"])


def test_missing_rerank_checkpoint_is_refused_before_any_work(tiny_run_config, no_data_loading):
    with pytest.raises(SystemExit, match=r"rerank_with=saved/missing\.pth: no such checkpoint file"):
        main(["--model=NISER", "--dataset=ml-100k", "--rerank_with=saved/missing.pth", *cli_args(tiny_run_config)])


def test_unknown_rerank_model_is_refused_before_any_work(tiny_run_config, no_data_loading):
    with pytest.raises(SystemExit, match=r"unknown model 'NISR' \(closest: NISER\)"):
        main(["--model=NISER", "--dataset=ml-100k", "--rerank_with=NISR", *cli_args(tiny_run_config)])


@pytest.mark.parametrize("override, expected", [
    ("--learning_rate=abc", r"learning_rate='abc' \(override\): expected a number like the default 0\.001"),
    ("--epochs=1.5", r"epochs=1\.5 \(override\): expected an integer"),
    ("--show_progress=3", r"show_progress=3 \(override\): expected true or false"),
])
def test_value_of_the_wrong_type_is_refused_before_the_data_loads(tiny_run_config, no_data_loading, override,
                                                                  expected):
    with pytest.raises(SystemExit, match=expected):
        main(["--model=NISER", "--dataset=ml-100k", *cli_args(tiny_run_config), override])


def test_ctrl_c_says_in_one_line_what_is_kept_and_how_to_go_on(tiny_run_config, monkeypatch):
    train_epoch = SemSRTrainer._train_epoch

    def interrupted_in_second_epoch(self, train_data, epoch_idx, *args, **kwargs):
        if epoch_idx == 1:
            raise KeyboardInterrupt
        return train_epoch(self, train_data, epoch_idx, *args, **kwargs)

    monkeypatch.setattr(SemSRTrainer, "_train_epoch", interrupted_in_second_epoch)
    with pytest.raises(SystemExit) as stopped:
        main(["--model=NISER", "--dataset=ml-100k", *cli_args({**tiny_run_config, "epochs": 2})])
    message = str(stopped.value.code)
    checkpoint = message.split("kept in ")[1].split(";")[0]
    assert Path(checkpoint).is_file() and f"--model_file={checkpoint}" in message and "\n" not in message
