"""Settings files the user hands the runner: every problem is one line naming the file (and line)."""
from pathlib import Path

import pytest

from recbole_semsr.cli import main
from recbole_semsr.config import SemSRConfig
from recbole_semsr.defaults import ConfigFileError, read_yaml


def write(tmp_path: Path, text: str, name: str = "settings.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_invalid_yaml_names_the_file_and_the_line(tmp_path):
    path = write(tmp_path, "epochs: 1\nlearning_rate: [0.1\nseed: 3\n")
    with pytest.raises(ConfigFileError, match=rf"^{path}, line 3: not valid YAML"):
        read_yaml(path)


@pytest.mark.parametrize("text", ["", "# only a comment\n\n# and another\n"])
def test_an_empty_or_comment_only_file_holds_no_settings(tmp_path, text):
    config = SemSRConfig("NISER", "ml-100k", [str(write(tmp_path, text))])
    assert config.file_config_dict == {} and config["epochs"] == 30


def test_a_top_level_list_is_refused_naming_the_file(tmp_path):
    path = write(tmp_path, "- epochs: 1\n- seed: 3\n")
    with pytest.raises(ConfigFileError, match=rf"^{path}: expected a mapping of settings .*found a list$"):
        read_yaml(path)


def test_a_duplicate_key_is_refused_with_both_lines(tmp_path):
    path = write(tmp_path, "epochs: 1\nseed: 3\nepochs: 5\n")
    with pytest.raises(ConfigFileError, match=rf"^{path}: key 'epochs' is given twice \(lines 1 and 3\)$"):
        read_yaml(path)


def test_a_duplicate_key_inside_a_nested_mapping_is_refused(tmp_path):
    path = write(tmp_path, "eval_args:\n  order: TO\n  mode: full\n  order: RO\n")
    with pytest.raises(ConfigFileError, match=r"key 'order' is given twice \(lines 2 and 4\)"):
        read_yaml(path)


def test_the_runner_refuses_a_bad_config_file_in_one_line_before_the_data_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "epochs: 1\nepochs: 2\n")
    with pytest.raises(SystemExit, match=rf"^error: {path}: key 'epochs' is given twice \(lines 1 and 2\)$"):
        main(["--model=NISER", "--dataset=ml-100k", f"--config_files={path}"])
