"""Checks of a run's settings that need no data, done before any data is loaded."""
from __future__ import annotations

from typing import Any


class ConfigValueError(ValueError):
    """A setting whose value cannot be of the type its default has."""


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
