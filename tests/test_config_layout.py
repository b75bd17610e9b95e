"""Configuration that says something (issue 25): no dataset YAML repeats overall.yaml, the kNN models share one
base YAML, no one-value grid, and a default that cannot apply does not warn."""
import logging
from pathlib import Path

import pytest
import torch

from recbole_semsr.config import PROPERTIES_DIR, SemSRConfig, package_yaml_files
from recbole_semsr.defaults import overall_defaults, read_yaml
from recbole_semsr.model import MODELS
from recbole_semsr.tuning.params import parse_params_file
from test_session_baselines import PrefixDataset, SESSIONS

KNN_MODELS = ("VSKNN", "STAN", "VSTAN")


@pytest.mark.parametrize("path", sorted((PROPERTIES_DIR / "dataset").glob("*.yaml")), ids=lambda path: path.name)
def test_a_dataset_yaml_only_holds_settings_that_differ_from_overall(path):
    settings = read_yaml(path)
    assert settings, f"{path.name} sets nothing"
    repeated = {key for key, value in settings.items() if overall_defaults().get(key, object()) == value}
    assert repeated == set()


@pytest.mark.parametrize("model", KNN_MODELS)
def test_the_knn_models_read_one_base_yaml_and_repeat_none_of_it(model):
    model_files = [path for path in package_yaml_files(MODELS[model], "none") if path.parent.name == "model"]
    assert [path.name for path in model_files[:2]] == ["NonNeuralSessionModel.yaml", "SessionKNN.yaml"]
    seen: dict[str, object] = {}
    for path in model_files:
        for key, value in read_yaml(path).items():
            assert seen.get(key, object()) != value, f"{path.name} repeats {key}: {value}"
            seen[key] = value
    assert seen["knn_neighbours"] == 100 and seen["fallback_popularity"] is True


def test_vstan_reads_stan_then_its_own_values():
    config = SemSRConfig("VSTAN", "none")
    assert (config["lambda_spw"], config["lambda_inh"], config["lambda_idf"]) == (1.02, 2.05, 5.0)
    assert SemSRConfig("STAN", "none")["lambda_idf"] == 0.0


def test_no_shipped_grid_searches_a_single_value():
    root = Path(__file__).resolve().parent.parent
    for path in [root / "hyper.test", *(root / "properties" / "tuning").glob("*.test")]:
        single = [spec.name for spec in parse_params_file(path) if spec.is_grid and len(spec.values) == 1]
        assert single == [], f"{path.name}: {single} belong in the settings, not in a grid"


def test_knn_remind_false_is_a_setting_of_beauty():
    assert SemSRConfig("STAN", "beauty")["knn_remind"] is False
    assert SemSRConfig("STAN", "kdd_m2_uk")["knn_remind"] is True


@pytest.mark.parametrize("model", ["STAN", "VSTAN"])
def test_the_default_recency_decay_does_not_warn_without_a_time_field(model, caplog):
    values = {**SemSRConfig(model, "none").final_config_dict, "device": torch.device("cpu")}
    with caplog.at_level(logging.WARNING):
        MODELS[model](values, PrefixDataset(SESSIONS))
    assert "lambda_snh" not in caplog.text
    with caplog.at_level(logging.WARNING):
        MODELS[model]({**values, "lambda_snh": 5}, PrefixDataset(SESSIONS))
    assert "no time field, so knn_sample_size and lambda_snh (recency) are not applied" in caplog.text
