"""Issue 25, case 10: a dataset name must stay inside data_path, in the runner and in the embeddings CLI."""
import pytest

from recbole_semsr.cli import main
from recbole_semsr.embeddings.__main__ import main as embeddings_main


@pytest.mark.parametrize("name, hint", [("../evil", ""), ("beauty/", r" \(did you mean --dataset=beauty\?\)"),
                                        ("/tmp/beauty", ""), ("..", ""), ("a\\b", "")])
def test_the_runner_refuses_a_dataset_name_that_is_a_path(tiny_run_config, no_data_loading, name, hint):
    escaped = name.replace("\\", "\\\\\\\\").replace(".", r"\.")
    with pytest.raises(SystemExit, match=rf"^error: dataset '{escaped}': a dataset is named by one folder inside "
                                         rf"data_path, such as beauty or ml-100k, not by a path{hint};"):
        main(["--model=NISER", f"--dataset={name}", f"--data_path={tiny_run_config['data_path']}", "--epochs=1"])


def test_the_embeddings_cli_refuses_a_dataset_name_that_is_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "evil"
    outside.mkdir()
    (outside / "evil.item").write_text("item_id:token\ttitle:token_seq\n1\ta title\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    with pytest.raises(SystemExit, match=r"^error: dataset '\.\./evil': a dataset is named by one folder"):
        embeddings_main(["--dataset=../evil", f"--data_path={tmp_path / 'data'}",
                         f"--embedding_dir={tmp_path / 'vectors'}"])
    assert not (tmp_path / "vectors").exists()
