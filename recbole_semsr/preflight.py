"""Checks of a run's settings that need no data, done before any data is loaded."""
from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from recbole.utils import argument_list

from recbole_semsr.config import SemSRConfig
from recbole_semsr.defaults import properties_dir, read_yaml, recbole_properties_dir

RECBOLE_RUNTIME_KEYS = ("model", "dataset", "device", "MODEL_TYPE", "MODEL_INPUT_TYPE", "eval_type",
                        "valid_metric_bigger", "valid_neg_sample_args", "test_neg_sample_args", "neg_sampling",
                        "local_rank", "world_size", "nproc", "ip", "port", "offset", "single_spec", "encoding")
"""Keys RecBole's `Config` sets itself, its distributed `run_recbole` passes or its dataset reads (`encoding`),
found in none of its YAML files."""


class ConfigValueError(ValueError):
    """A setting whose value cannot be of the type its default has."""


@functools.cache
def known_config_keys() -> frozenset[str]:
    """Every setting name a run may give: the keys of RecBole's YAML files (its defaults and every model's), of
    RecBole's argument lists, of this package's `properties/` files, and `RECBOLE_RUNTIME_KEYS`."""
    files = [*recbole_properties_dir().rglob("*.yaml"), *properties_dir().rglob("*.yaml")]
    keys = {key for path in files for key in read_yaml(path)}
    keys |= {*argument_list.general_arguments, *argument_list.training_arguments,
             *argument_list.evaluation_arguments, *argument_list.dataset_arguments, *RECBOLE_RUNTIME_KEYS}
    return frozenset(keys)


def unknown_key_message(key: str, source: str) -> str:
    """`unknown setting 'learning_rat' (override): did you mean learning_rate? ...` with the closest known name."""
    close = difflib.get_close_matches(key, sorted(known_config_keys()), n=1, cutoff=0.6)
    hint = f": did you mean {close[0]}?" if close else ": no setting of RecBole, this package or a model has it"
    return (f"unknown setting {key!r} ({source}){hint} A key of your own (read by your code) passes when listed in "
            "custom_config_keys, e.g. --custom_config_keys=[" + key + "]")


def check_setting_names(sources: Mapping[str, str], custom_keys: Iterable[str] = ()) -> None:
    """Refuse the first key of `sources` (key -> where it was given) that no one reads (`ConfigValueError`)."""
    allowed = known_config_keys() | set(custom_keys)
    for key, source in sources.items():
        if key not in allowed:
            raise ConfigValueError(unknown_key_message(key, source))


def check_config_keys(config: Any, sources: Mapping[str, str] | None = None) -> None:
    """Refuse a config-file key or override that is neither RecBole's, nor this package's, nor a model parameter
    (`learning_rat`, `--epoch=1`), naming the closest valid name; keys in `custom_config_keys` pass.

    `sources` names where keys came from (e.g. a params file); by default `config.setting_sources` when the config
    records it, else `config file` / `override`.
    """
    given = {**{key: "config file" for key in config.file_config_dict},
             **{key: "override" for key in config.variable_config_dict},
             **getattr(config, "setting_sources", {}), **(sources or {})}
    check_setting_names(given, config["custom_config_keys"] or ())


def value_fits_default(value: Any, default: Any) -> bool:
    """True when `value` can stand where `default` stands: booleans for booleans, integers for integers, numbers
    for floats.

    Anything may replace a default of None, a string, a list or a mapping (RecBole accepts `topk: 20` for a list).
    """
    if value is None or default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(value, bool):
        return not isinstance(default, (int, float))
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, int):
        return isinstance(value, int)
    return True


def expected_kind(default: Any) -> str:
    """What `value_fits_default` wants, in words."""
    if isinstance(default, bool):
        return "true or false"
    return "a number" if isinstance(default, float) else "an integer"


def check_config_types(config: Any) -> None:
    """Refuse a command-line or config-file value whose type does not fit the default's (`--learning_rate=abc`).

    `config` is a RecBole `Config`: its `internal_config_dict` holds the defaults of RecBole and this package,
    `file_config_dict` and `variable_config_dict` the user's files and overrides.
    """
    defaults = config.internal_config_dict
    for source, values in (("config file", config.file_config_dict), ("override", config.variable_config_dict)):
        for key, value in values.items():
            if key in defaults and not value_fits_default(value, defaults[key]):
                raise ConfigValueError(f"{key}={value!r} ({source}): expected {expected_kind(defaults[key])} "
                                       f"like the default {defaults[key]!r}")


def check_config(config: Any, sources: Mapping[str, str] | None = None) -> None:
    """Every check of a built config that needs no data: setting names (`check_config_keys`) and value types."""
    check_config_keys(config, sources)
    check_config_types(config)


def checked_config(model: str | type, dataset: str, config_file_list: list[str] | None = None,
                   config_dict: dict[str, Any] | None = None,
                   sources: Mapping[str, str] | None = None) -> SemSRConfig:
    """The run's `SemSRConfig`, after `check_config`: what the runner, tuning and the benchmark check before any
    data is loaded (`sources` names where some keys came from, e.g. a params file)."""
    config = SemSRConfig(model, dataset, config_file_list, config_dict)
    check_config(config, sources)
    return config
