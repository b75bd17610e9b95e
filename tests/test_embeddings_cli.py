"""Issue 25, case 11: `python -m recbole_semsr.embeddings` refuses documented bad input with one line, no traceback."""
import re
from pathlib import Path

import pytest

from recbole_semsr.embeddings.__main__ import main


def dataset_with_item_file(root: Path, text: str) -> Path:
    folder = root / "data" / "toy"
    folder.mkdir(parents=True)
    (folder / "toy.item").write_text(text, encoding="utf-8")
    return root / "data"


def run_cli(data_path: Path, tmp_path: Path, *extra: str) -> None:
    main(["--dataset=toy", f"--data_path={data_path}", f"--embedding_dir={tmp_path / 'vectors'}", *extra])


@pytest.mark.parametrize("text, expected", [
    ("item_id:token\ttitle:token_seq\n1\ta\n1\tb\n", r"toy\.item, line 3: item '1' already defined on line 2"),
    ("item_id:token\ttitle:token_seq\n1\ta\tb\n", r"toy\.item.*line 2"),
    ("", r"toy\.item"),
])
def test_a_bad_item_file_is_one_line(tmp_path, monkeypatch, text, expected):
    monkeypatch.chdir(tmp_path)
    data_path = dataset_with_item_file(tmp_path, text)
    with pytest.raises(SystemExit) as stopped:
        run_cli(data_path, tmp_path)
    message = str(stopped.value.code)
    assert message.startswith("error: ") and "\n" not in message
    assert re.search(expected, message), message


def test_a_missing_item_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "toy").mkdir(parents=True)
    with pytest.raises(SystemExit, match=r"^error: dataset toy has no item text: .*toy\.item not found"):
        run_cli(tmp_path / "data", tmp_path)


def test_an_unknown_encoder_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data_path = dataset_with_item_file(tmp_path, "item_id:token\ttitle:token_seq\n1\ta\n")
    with pytest.raises(SystemExit, match=r"^error: unknown sem_encoder 'minilmm'; choose one of minilm"):
        run_cli(data_path, tmp_path, "--encoder=minilmm")


def test_a_misspelt_setting_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data_path = dataset_with_item_file(tmp_path, "item_id:token\ttitle:token_seq\n1\ta\n")
    with pytest.raises(SystemExit, match=r"^error: unknown setting 'sem_batch_sise' \(override\): did you mean "
                                         r"sem_batch_size\?"):
        run_cli(data_path, tmp_path, "--sem_batch_sise=8")


def test_an_unwritable_embedding_dir_is_refused_before_reading_items(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data_path = dataset_with_item_file(tmp_path, "item_id:token\ttitle:token_seq\n1\ta\n")
    with pytest.raises(SystemExit, match=r"^error: sem_embedding_dir=/sys/vectors: cannot be written"):
        main(["--dataset=toy", f"--data_path={data_path}", "--embedding_dir=/sys/vectors"])


def test_ctrl_c_while_encoding_is_one_line(tmp_path, monkeypatch):
    from recbole_semsr.embeddings import loader

    def interrupted(spec):
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(loader, "build_encoder", interrupted)
    data_path = dataset_with_item_file(tmp_path, "item_id:token\ttitle:token_seq\n1\ta\n")
    with pytest.raises(SystemExit, match=r"^interrupted: no new vectors were cached; run the same command again"):
        run_cli(data_path, tmp_path)
