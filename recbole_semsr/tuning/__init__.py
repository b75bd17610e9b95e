"""Hyperparameter search: RecBole params-file parser and a Ray Tune grid search that selects on validation."""
from recbole_semsr.tuning.cli import add_tuning_arguments, tune_from_args
from recbole_semsr.tuning.params import ParamsFileError, ParamSpec, parse_params_file, parse_params_text
from recbole_semsr.tuning.ray_search import (
    TuneOptions,
    format_trials_table,
    quick_start_objective,
    tune_hyperparameters,
)

__all__ = [
    "ParamSpec",
    "ParamsFileError",
    "TuneOptions",
    "add_tuning_arguments",
    "format_trials_table",
    "parse_params_file",
    "parse_params_text",
    "quick_start_objective",
    "tune_from_args",
    "tune_hyperparameters",
]
