"""The dataset registry: converters declare their datasets; `ensure_dataset` only looks them up."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from dataset_converters import prepare, registry
from dataset_converters.prepare import DatasetNotFoundError, ensure_dataset
from dataset_converters.registry import DatasetSpec, RawFile, find_dataset, register


@pytest.fixture
def toy_dataset():
    """A dataset declared by the test alone: its converter writes the benchmark files from one raw file."""
    calls = []

    def convert(name: str, raw, output_dir: Path) -> dict:
        calls.append((name, dict(raw), output_dir))
        output_dir.mkdir(parents=True)
        for path in prepare.benchmark_files(name, output_dir.parent):
            path.write_text("header\n")
        return {"dataset": name}

    spec = register(DatasetSpec(name="toy", module="toy_converter", raw_files=(
        RawFile("--events", ("toy_events.csv",)), RawFile("--extra", ("toy_extra.csv",), optional=True)),
        convert=convert, download_hint="https://example.org/toy"))
    yield spec, calls
    registry.unregister("toy")


def test_a_dataset_registered_in_a_test_is_converted_without_editing_prepare(toy_dataset, tmp_path):
    spec, calls = toy_dataset
    data, raw = tmp_path / "data", tmp_path / "raw"
    with pytest.raises(DatasetNotFoundError) as error:
        ensure_dataset("toy", data, raw)
    message = str(error.value)
    assert "https://example.org/toy" in message and "--events: one of toy_events.csv" in message
    assert f"python -m toy_converter --events {raw / 'toy_events.csv'} --output_dir {data / 'toy'}" in message
    raw.mkdir()
    (raw / "toy_events.csv").write_text("a,b\n")
    assert ensure_dataset("toy", data, raw) == {"dataset": "toy"}
    assert calls == [("toy", {"--events": raw / "toy_events.csv", "--extra": None}, data / "toy")]
    assert ensure_dataset("toy", data, raw) is None  # already converted
    assert len(calls) == 1


def test_the_package_converters_declare_their_datasets():
    assert find_dataset("beauty").module == "dataset_converters.beauty"
    assert find_dataset("kdd_m2_de").command_args("kdd_m2_de") == ["--locale", "DE"]
    assert find_dataset("ml-100k").raw_files == ()
    assert find_dataset("kdd_m2_") is None and find_dataset("my_own_sessions") is None


def test_prepare_names_no_dataset():
    source = inspect.getsource(prepare)
    assert not any(name in source for name in ('"beauty"', "kdd_m2", '"ml-100k"', "ml100k"))


def test_the_runner_prints_the_converters_summary(tmp_path, capsys, monkeypatch):
    from recbole_semsr.config import SemSRConfig
    from recbole_semsr.quick_start import prepare_dataset

    monkeypatch.chdir(tmp_path)
    prepare_dataset(SemSRConfig("NISER", "ml-100k", config_dict={"data_path": str(tmp_path / "data")}))
    printed = capsys.readouterr().out
    assert f"converted ml-100k into {tmp_path / 'data' / 'ml-100k'}" in printed
    assert "dataset ml-100k: #train" in printed and "no bad input records" in printed
    prepare_dataset(SemSRConfig("NISER", "ml-100k", config_dict={"data_path": str(tmp_path / "data")}))
    assert capsys.readouterr().out == ""


def test_a_converted_dataset_without_item_text_is_found(tmp_path):
    """m2_task2 has no item text: its three split files are the whole dataset, nothing is asked for or converted."""
    for path in prepare.benchmark_files("m2_task2", tmp_path, with_item_file=False):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("session_id:token\titem_id_list:token_seq\titem_id:token\n")
    assert ensure_dataset("m2_task2", tmp_path, raw_data_path=None) is None
    (tmp_path / "m2_task2" / "m2_task2.test.inter").unlink()
    with pytest.raises(DatasetNotFoundError, match="m2_task2.test.inter") as error:
        ensure_dataset("m2_task2", tmp_path, raw_data_path=None)
    assert "m2_task2.item" not in str(error.value)
