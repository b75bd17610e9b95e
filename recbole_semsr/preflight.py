"""Checks of a run's settings that need no data, done before any data is loaded."""
from __future__ import annotations

import difflib
import functools
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from recbole.utils import argument_list

from recbole_semsr.defaults import properties_dir, read_yaml, recbole_properties_dir

RECBOLE_RUNTIME_KEYS = ("model", "dataset", "device", "MODEL_TYPE", "MODEL_INPUT_TYPE", "eval_type",
                        "valid_metric_bigger", "valid_neg_sample_args", "test_neg_sample_args", "neg_sampling",
                        "local_rank", "world_size", "nproc", "ip", "port", "offset", "single_spec", "encoding")
"""Keys RecBole's `Config` sets itself, its distributed `run_recbole` passes or its dataset reads (`encoding`),
found in none of its YAML files."""


class ConfigValueError(ValueError):
    """A setting whose value cannot be of the type its default has."""


class OutputLocationError(ValueError):
    """A folder or file a run would write to, but cannot (read-only, or a file where a folder must be)."""


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
            f"custom_config_keys, e.g. --custom_config_keys=[{key}]")


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


def check_value_types(defaults: Mapping[str, Any], given: Mapping[str, tuple[Any, str]]) -> None:
    """Refuse a value whose type does not fit its default's (`--learning_rate=abc`); `given` maps each key to its
    value and where it was given."""
    for key, (value, source) in given.items():
        if key in defaults and not value_fits_default(value, defaults[key]):
            raise ConfigValueError(f"{key}={value!r} ({source}): expected {expected_kind(defaults[key])} "
                                   f"like the default {defaults[key]!r}")


def check_config_types(config: Any) -> None:
    """`check_value_types` for a RecBole `Config`: its `internal_config_dict` holds the defaults of RecBole and this
    package, `file_config_dict` and `variable_config_dict` the user's files and overrides."""
    given = {**{key: (value, "config file") for key, value in config.file_config_dict.items()},
             **{key: (value, "override") for key, value in config.variable_config_dict.items()}}
    check_value_types(config.internal_config_dict, given)


def check_config(config: Any, sources: Mapping[str, str] | None = None) -> None:
    """Every check of a built config that needs no data: setting names (`check_config_keys`), value types and the
    output folders."""
    check_config_keys(config, sources)
    check_config_types(config)
    check_output_locations(config)


def check_writable_folder(path: str | Path, label: str, given: str | Path | None = None) -> None:
    """Refuse (`OutputLocationError`, one line naming `label={given or path}`) a folder that cannot be created or
    written to: its nearest existing ancestor must be a folder in which a file can be created (tried with a
    temporary file, removed at once)."""
    label = f"{label}={path if given is None else given}"
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputLocationError(f"{label}: cannot be written: {existing} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".write-check-")
    except OSError as error:
        raise OutputLocationError(f"{label}: cannot be written: no file can be created in {existing} "
                                  f"({error.strerror})") from error
    os.close(handle)
    os.unlink(probe)


def check_writable_file(path: str | Path, label: str) -> None:
    """Refuse a file path that cannot be written: a folder, a read-only file, or a folder that cannot be written."""
    file = Path(path)
    if file.is_dir():
        raise OutputLocationError(f"{label}={path}: is a folder, expected a file name")
    if file.exists() and not os.access(file, os.W_OK):
        raise OutputLocationError(f"{label}={path}: cannot be written: the file is read-only")
    check_writable_folder(file.parent, label, given=path)


def check_output_locations(config: Any) -> None:
    """Every folder a run writes to, checked before any data is loaded: `checkpoint_dir`, and `sem_embedding_dir`
    for a Sem model that encodes item text (no `sem_embedding_file`)."""
    check_writable_folder(config["checkpoint_dir"], "checkpoint_dir")
    encodes_text = getattr(config.model_class, "base_model", None) is not None and not config["sem_embedding_file"]
    if encodes_text:
        check_writable_folder(config["sem_embedding_dir"], "sem_embedding_dir")
