"""Issue 25, case 5: a misspelt setting is refused before any work, naming the closest valid name."""
import argparse
from pathlib import Path

import pytest

from recbole_semsr.benchmark.__main__ import main as benchmark_main
from recbole_semsr.cli import main
from recbole_semsr.config import SemSRConfig
from recbole_semsr.preflight import ConfigValueError, check_config_keys
from recbole_semsr.tuning import cli as tuning_cli


def runner_args(tiny_run_config: dict) -> list[str]:
    return ["--model=NISER", "--dataset=ml-100k", *[f"--{key}={value}" for key, value in tiny_run_config.items()]]


@pytest.mark.parametrize("override, closest", [("--learning_rat=0.1", "learning_rate"), ("--epoch=1", "epochs"),
                                               ("--sem_encodr=angle", "sem_encoder")])
def test_a_misspelt_override_is_refused_with_the_closest_name(tiny_run_config, no_data_loading, override, closest):
    key = override[2:].split("=")[0]
    with pytest.raises(SystemExit, match=rf"^error: unknown setting '{key}' \(override\): did you mean {closest}\?"):
        main([*runner_args(tiny_run_config), override])


def test_a_misspelt_key_in_a_config_file_is_refused_naming_the_file(tiny_run_config, no_data_loading, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("epochs: 1\nlearning_rat: 0.1\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=rf"unknown setting 'learning_rat' \({path}\): did you mean learning_rate\?"):
        main([*runner_args(tiny_run_config), f"--config_files={path}"])


@pytest.mark.parametrize("key", ["sigma", "n_heads", "knn_neighbours", "sem_llm_dim", "hidden_size", "MAX_ITEM_LIST_LENGTH",
                                 "allow_split_mismatch", "gpu_id", "encoding"])
def test_keys_of_recbole_this_package_and_any_model_pass(key):
    check_config_keys(SemSRConfig("NISER", "ml-100k", config_dict={key: None}))


def test_a_custom_key_passes_when_listed_in_custom_config_keys():
    with pytest.raises(ConfigValueError, match="custom_config_keys"):
        check_config_keys(SemSRConfig("NISER", "ml-100k", config_dict={"my_note": "x"}))
    check_config_keys(SemSRConfig("NISER", "ml-100k", config_dict={"my_note": "x", "custom_config_keys": ["my_note"]}))


def test_a_misspelt_name_in_a_params_file_is_refused_before_any_trial(tmp_path, monkeypatch):
    params = tmp_path / "hyper.test"
    params.write_text("learning_rate choice [0.01]\nknn_neighbour choice [100,500]\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--dataset")
    tuning_cli.add_tuning_arguments(parser)
    args = parser.parse_args(["--model=STAN", "--dataset=ml-100k", f"--params_file={params}"])
    monkeypatch.setattr(tuning_cli, "tune_hyperparameters", lambda *a: pytest.fail("a trial was started"))
    with pytest.raises(ConfigValueError, match=rf"unknown setting 'knn_neighbour' \(params file {params}\): did "
                                               r"you mean knn_neighbours\?"):
        tuning_cli.tune_from_args(args)


def test_every_shipped_params_file_names_known_settings():
    root = Path(__file__).resolve().parent.parent
    files = [root / "hyper.test", *(root / "properties" / "tuning").glob("*.test")]
    for path in files:
        model = path.stem if path.parent.name == "tuning" else "NISER"
        tuning_cli.check_searched_settings(tuning_cli.parse_params_file(path), str(path), model, "ml-100k", None, None)
    assert len(files) == 5


def test_a_misspelt_benchmark_override_is_refused_before_any_run(tiny_run_config, no_data_loading, tmp_path):
    with pytest.raises(SystemExit, match=r"^error: unknown setting 'epoch' \(override\): did you mean epochs\?"):
        benchmark_main(["--models=NISER", "--datasets=ml-100k", f"--output={tmp_path / 'bench'}", "--epoch=1",
                        f"--data_path={tiny_run_config['data_path']}"])
