"""RecBole params-file parser: every accepted form, and a clear error on a bad line."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from recbole_semsr.tuning import ray_search
from recbole_semsr.tuning.params import ParamsFileError, ParamSpec, parse_params_file, parse_params_text

REPO = Path(__file__).resolve().parents[1]


def test_repo_hyper_test_is_the_papers_learning_rate_grid() -> None:
    assert parse_params_file(REPO / "hyper.test") == [
        ParamSpec("learning_rate", "choice", (0.1, 0.01, 0.001, 0.0001))
    ]


def test_every_kind_comments_blank_lines_and_spaces() -> None:
    text = (
        "# learning-rate grid\n"
        "\n"
        "learning_rate choice [0.1, 0.01]\n"
        "hidden_act choice ['gelu', 'relu']\n"
        "layers choice [[64, 64], [128]]\n"
        "dropout_prob uniform 0.1,0.5\n"
        "embedding_size quniform 64, 256, 32\n"
        "weight_decay loguniform -12,-4\n"
        "hidden_size qloguniform 3,6,8\n"
    )
    specs = {spec.name: spec for spec in parse_params_text(text)}
    assert list(specs) == ["learning_rate", "hidden_act", "layers", "dropout_prob", "embedding_size",
                           "weight_decay", "hidden_size"]
    assert specs["learning_rate"].values == (0.1, 0.01) and specs["learning_rate"].is_grid
    assert specs["hidden_act"].values == ("gelu", "relu")
    assert specs["layers"].values == ([64, 64], [128])
    assert specs["dropout_prob"] == ParamSpec("dropout_prob", "uniform", (0.1, 0.5))
    assert specs["embedding_size"] == ParamSpec("embedding_size", "quniform", (64.0, 256.0, 32.0))
    assert specs["weight_decay"] == ParamSpec("weight_decay", "loguniform", (-12.0, -4.0))
    assert specs["hidden_size"] == ParamSpec("hidden_size", "qloguniform", (3.0, 6.0, 8.0))
    assert not specs["weight_decay"].is_grid


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("learning_rate choice", "line 2: expected '<name> <kind> <value>'"),
        ("learning_rate grid [0.1]", "line 2: unknown kind 'grid'"),
        ("learning_rate choice [0.1,", "line 2: choice expects a literal list"),
        ("learning_rate choice __import__('os')", "line 2: choice expects a literal list"),
        ("learning_rate choice 0.1", "line 2: choice expects a non-empty list"),
        ("learning_rate choice []", "line 2: choice expects a non-empty list"),
        ("dropout uniform 0.1", "line 2: uniform expects 2 numbers 'low,high'"),
        ("dropout uniform a,b", "line 2: uniform expects numbers 'low,high'"),
        ("dropout uniform 0.5,0.1", "line 2: uniform expects low < high"),
        ("size quniform 1,8", "line 2: quniform expects 3 numbers 'low,high,q'"),
        ("size quniform 1,8,0", "line 2: quniform expects a positive step q"),
        ("embedding_size choice [1,2]", "line 2: parameter 'embedding_size' is given twice"),
    ],
)
def test_bad_line_names_file_line_and_expectation(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "bad.hyper"
    path.write_text(f"embedding_size choice [64]\n{line}\n")
    with pytest.raises(ParamsFileError) as error:
        parse_params_file(path)
    assert str(error.value).startswith(f"{path}, {expected}")


def test_empty_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.hyper"
    empty.write_text("# nothing\n\n")
    with pytest.raises(ParamsFileError, match="no parameters found"):
        parse_params_file(empty)
    with pytest.raises(ParamsFileError, match="cannot read params file"):
        parse_params_file(tmp_path / "missing.hyper")


def test_search_space_grid_and_hyperopt_log_bounds() -> None:
    specs = parse_params_text("learning_rate choice [0.1,0.01]\nweight_decay loguniform -4,-2\nsize quniform 8,64,8\n")
    space = ray_search.to_search_space(specs)
    assert space["learning_rate"] == {"grid_search": [0.1, 0.01]}
    assert math.isclose(space["weight_decay"].lower, math.exp(-4))
    assert math.isclose(space["weight_decay"].upper, math.exp(-2))
    assert (space["size"].lower, space["size"].upper) == (8.0, 64.0)
    assert all(value % 8 == 0 for value in space["size"].sample(size=20))


def test_whole_number_kinds_reach_the_trial_as_int() -> None:
    specs = parse_params_text("size quniform 8,64,8\nlayers qloguniform 0,3,1\ndrop quniform 0.1,0.5,0.1\n"
                              "lr choice [0.01]\n")
    assert [spec.yields_integers for spec in specs] == [True, True, False, False]
    integer_names = frozenset(spec.name for spec in specs if spec.yields_integers)
    params = ray_search.trial_params({"size": 96.0, "layers": 7.0, "drop": 0.30000000000000004, "lr": 0.01,
                                      "other": 1}, [spec.name for spec in specs], integer_names)
    assert params == {"size": 96, "layers": 7, "drop": 0.30000000000000004, "lr": 0.01}
    assert isinstance(params["size"], int) and isinstance(params["layers"], int)
