"""Issue 25, case 8: every place a run writes to is checked before any data is loaded, with one line."""
from pathlib import Path

import pytest

from recbole_semsr.benchmark.__main__ import main as benchmark_main
from recbole_semsr.cli import main

UNWRITABLE = Path("/sys/recbole-semsr-output")  # no process, root included, can create a file in /sys


def runner_args(config: dict) -> list[str]:
    return [f"--{key}={value}" for key, value in config.items()]


def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("not a folder\n", encoding="utf-8")
    return path


def test_an_unwritable_checkpoint_dir_is_refused_before_the_data_loads(tiny_run_config, no_data_loading):
    config = {**tiny_run_config, "checkpoint_dir": UNWRITABLE / "saved"}
    with pytest.raises(SystemExit, match=rf"^error: checkpoint_dir={UNWRITABLE}/saved: cannot be written: no file "
                                         r"can be created in /sys \(Permission denied\)$"):
        main(["--model=NISER", "--dataset=ml-100k", *runner_args(config)])


def test_a_checkpoint_dir_below_a_file_is_refused(tiny_run_config, no_data_loading, tmp_path):
    blocker = a_file(tmp_path)
    config = {**tiny_run_config, "checkpoint_dir": blocker / "saved"}
    with pytest.raises(SystemExit, match=rf"^error: checkpoint_dir={blocker}/saved: cannot be written: {blocker} is "
                                         r"a file, not a folder$"):
        main(["--model=NISER", "--dataset=ml-100k", *runner_args(config)])


def test_an_unwritable_sem_embedding_dir_is_refused_for_a_sem_model(tiny_run_config, no_data_loading):
    config = {**tiny_run_config, "sem_embedding_dir": UNWRITABLE / "vectors"}
    with pytest.raises(SystemExit, match=r"^error: sem_embedding_dir=.*: cannot be written"):
        main(["--model=SemNISER_F", "--dataset=ml-100k", *runner_args(config)])


def test_an_unwritable_result_file_is_refused_before_the_data_loads(tiny_run_config, no_data_loading, tmp_path):
    result_file = a_file(tmp_path) / "result.json"
    with pytest.raises(SystemExit, match=rf"^error: --result_file={result_file}: cannot be written: .* is a file, "
                                         r"not a folder$"):
        main(["--model=NISER", "--dataset=ml-100k", f"--result_file={result_file}", *runner_args(tiny_run_config)])


def test_a_result_file_that_is_a_folder_is_refused(tiny_run_config, no_data_loading, tmp_path):
    with pytest.raises(SystemExit, match=rf"^error: --result_file={tmp_path}: is a folder, expected a file name$"):
        main(["--model=NISER", "--dataset=ml-100k", f"--result_file={tmp_path}", *runner_args(tiny_run_config)])


def test_an_unwritable_benchmark_output_is_refused_before_any_run(tiny_run_config, no_data_loading):
    with pytest.raises(SystemExit, match=rf"^error: --output={UNWRITABLE}: cannot be written"):
        benchmark_main(["--models=NISER", "--datasets=ml-100k", f"--output={UNWRITABLE}",
                        *runner_args(tiny_run_config)])


def test_the_check_leaves_no_file_and_creates_no_folder(tiny_run_config, tmp_path, monkeypatch):
    from recbole_semsr.preflight import check_writable_folder

    check_writable_folder(tmp_path / "new" / "saved", "checkpoint_dir")
    assert sorted(path.name for path in tmp_path.iterdir()) == []
