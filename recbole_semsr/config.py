"""RecBole `Config` that knows this package's models and YAML files."""
from __future__ import annotations

import argparse
import ast
import enum
import json
import os
from pathlib import Path
from typing import Any

import yaml
from recbole.config import Config

from recbole_semsr import compat
from recbole_semsr.defaults import SafeFloatLoader, SettingsLoader, properties_dir, read_yaml, recbole_properties_dir
from recbole_semsr.preflight import check_config, check_setting_names, check_value_types

PROPERTIES_DIR = properties_dir()
RECBOLE_PROPERTIES_DIR = recbole_properties_dir()
PACKAGE_MODELS: dict[str, type] = {}
"""This package's model classes by name, registered by the model registry (`recbole_semsr.model`) when it is
imported: the config sits below the models and never imports them. A caller that names a model of this package
has imported the registry (`get_model`), or passes the model class."""


class DatasetNameError(ValueError):
    """A dataset name that is not one folder inside `data_path` (`../evil`, `beauty/`, an absolute path)."""


def is_plain_dataset_name(name: str) -> bool:
    """True for one plain folder name: not empty, not `.` or `..`, no path separator."""
    return bool(name) and name not in (".", "..") and not any(mark in name for mark in ("/", "\\", "\0"))


def check_dataset_name(dataset: str) -> None:
    """Refuse a dataset name that could lead outside `data_path` (`DatasetNameError`)."""
    if is_plain_dataset_name(dataset):
        return
    plain = dataset.strip("/\\")
    hint = f" (did you mean --dataset={plain}?)" if is_plain_dataset_name(plain) else ""
    raise DatasetNameError(f"dataset {dataset!r}: a dataset is named by one folder inside data_path, such as beauty "
                           f"or ml-100k, not by a path{hint}; point data_path at the folder that holds it")


class SemSRConfig(Config):
    """Config whose model lookup tries this package's registered models (`PACKAGE_MODELS`) first, then RecBole's.

    YAML order (later wins): RecBole's defaults, `properties/overall.yaml`, `properties/model/<Model>.yaml`,
    `properties/dataset/<dataset>.yaml`, then the user's `config_file_list`, `config_dict`.
    The command line is NOT read here: `run_recbole_semsr.py` parses it into `config_dict`, so that library calls
    (tests, tuning workers) never pick up a foreign `sys.argv`.
    """

    def compatibility_settings(self) -> None:
        compat.apply()

    def _build_yaml_loader(self) -> type[yaml.SafeLoader]:
        return SettingsLoader

    def _load_config_files(self, file_list: list[str] | None) -> dict:
        """The user's YAML files merged in order, each read by `read_yaml` (errors name the file and line)."""
        merged: dict = {}
        self.setting_sources: dict[str, str] = {}
        for path in file_list or []:
            loaded = read_yaml(path)
            merged.update(loaded)
            self.setting_sources.update({key: str(path) for key in loaded})
        return merged

    def _update_internal_config_dict(self, file: str) -> dict:
        loaded = read_yaml(file)
        self.internal_config_dict.update(loaded)
        return loaded

    def _convert_config_dict(self, config_dict: dict) -> dict:
        return {key: parse_config_value(value) for key, value in config_dict.items()}

    def _load_cmd_line(self) -> dict:
        return {}

    def _get_model_and_dataset(self, model, dataset):
        check_dataset_name(dataset)
        if isinstance(model, str):
            model = PACKAGE_MODELS.get(model, model)
        return super()._get_model_and_dataset(model, dataset)

    def _load_internal_config_dict(self, model, model_class, dataset) -> None:
        super()._load_internal_config_dict(model, model_class, dataset)
        for path in package_yaml_files(model_class, dataset) + self._dataset_folder_yaml(dataset):
            loaded = self._update_internal_config_dict(str(path))
            if path.parent.name in ("dataset", dataset) and loaded:
                self.parameters["Dataset"] += [k for k in loaded if k not in self.parameters["Dataset"]]

    def _dataset_folder_yaml(self, dataset: str) -> list[Path]:
        """`<data_path>/<dataset>/<dataset>.yaml` when it exists: settings a converter wrote beside the data (the
        sessions converter's item text template); the user's files and the command line still win."""
        data_path = self.external_config_dict.get("data_path") or self.internal_config_dict["data_path"]
        path = Path(data_path) / dataset / f"{dataset}.yaml"
        return [path] if path.is_file() else []

    def _set_default_parameters(self) -> None:
        external_data_path = self.final_config_dict["data_path"]
        super()._set_default_parameters()
        if self.dataset == "ml-100k":
            # RecBole points ml-100k at its raw example files; ours are the sessions cut from them.
            self.final_config_dict["data_path"] = os.path.join(external_data_path, self.dataset)


def dataset_dir(config: Any) -> Path:
    """The dataset's own folder, `<dataset_root>/<dataset>`: `data_path` as RecBole resolves it (it appends the
    dataset name), in a `SemSRConfig` or in `dataset_settings`."""
    return Path(config["data_path"])


def dataset_root(config: Any) -> Path:
    """The folder that holds the dataset folders: the `data_path` the user set, before the dataset name."""
    return dataset_dir(config).parent


def checked_config(model: str | type, dataset: str, config_file_list: list[str] | None = None,
                   config_dict: dict[str, Any] | None = None,
                   sources: dict[str, str] | None = None) -> SemSRConfig:
    """The run's `SemSRConfig` after `preflight.check_config` (setting names, value types, output folders): what
    the runner, tuning and the benchmark check before any data is loaded (`sources` names where some keys came
    from, e.g. a params file)."""
    config = SemSRConfig(model, dataset, config_file_list, config_dict)
    check_config(config, sources)
    return config


def dataset_settings(dataset: str, config_file_list: list[str] | None = None,
                     config_dict: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings for a dataset without a model, for command lines that train nothing (the embeddings CLI,
    `llm_rec`): the layers of `SemSRConfig` without the model's, then the files and `config_dict`, with `dataset`
    set and `data_path` resolved to the dataset's folder as RecBole resolves it. The user's keys pass the same name
    and type checks as a run's."""
    check_dataset_name(dataset)
    given: dict[str, tuple[Any, str]] = {}
    for path in config_file_list or []:
        given.update({key: (value, str(path)) for key, value in read_yaml(path).items()})
    given.update({key: (parse_config_value(value), "override") for key, value in (config_dict or {}).items()})
    external = {key: value for key, (value, _) in given.items()}
    defaults = dataset_defaults(dataset, external.get("data_path"))
    check_setting_names({key: source for key, (_, source) in given.items()},
                        external.get("custom_config_keys") or defaults["custom_config_keys"] or ())
    check_value_types(defaults, given)
    data_path = external.get("data_path") or defaults["data_path"]
    return {**defaults, **external, "dataset": dataset, "data_path": os.path.join(data_path, dataset)}


def dataset_defaults(dataset: str, data_path: str | None = None) -> dict[str, Any]:
    """A dataset's settings before the user's: RecBole's `overall.yaml` and dataset defaults,
    `properties/overall.yaml`, `properties/dataset/<dataset>.yaml`, `<data_path>/<dataset>/<dataset>.yaml`."""
    settings: dict[str, Any] = {}
    for path in (RECBOLE_PROPERTIES_DIR / "overall.yaml", RECBOLE_PROPERTIES_DIR / "dataset" / "sample.yaml",
                 RECBOLE_PROPERTIES_DIR / "dataset" / f"{dataset}.yaml", PROPERTIES_DIR / "overall.yaml",
                 PROPERTIES_DIR / "dataset" / f"{dataset}.yaml"):
        if path.is_file():
            settings.update(read_yaml(path))
    folder_yaml = Path(data_path or settings["data_path"]) / dataset / f"{dataset}.yaml"
    if folder_yaml.is_file():
        settings.update(read_yaml(folder_yaml))
    return settings


def split_config_files(values: list[str] | None) -> list[str] | None:
    """`--config_files` as a list of paths, whether given as several words or as one space-separated string."""
    if values is None:
        return None
    return [path for value in values for path in value.split()]


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (underscores allowed, as in 1_400_000); `--seeds=0` is a
    one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_overrides(extra: list[str]) -> dict[str, Any]:
    """`--key=value` pairs as a config dict (values parsed as literals, never evaluated)."""
    overrides = {}
    for argument in extra:
        key, sep, value = argument.removeprefix("--").partition("=")
        if not argument.startswith("--") or not sep or not key:
            raise SystemExit(f"unrecognised argument {argument!r}: expected --key=value")
        overrides[key] = parse_config_value(value)
    return overrides


def parse_config_value(value: Any) -> Any:
    """A CLI/dict string as a Python literal (`0.01`, `[20,100]`, `{'valid': 'full'}`, `true`) without eval."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass
    try:
        parsed = yaml.load(value, Loader=SafeFloatLoader)
    except yaml.YAMLError:
        return value
    return parsed if isinstance(parsed, (bool, int, float, list, dict)) else value


def package_yaml_files(model_class: type, dataset: str) -> list[Path]:
    """YAML files for a model and dataset, in loading order, those that exist.

    A SemSR variant (a class with `base_model`) first takes its base model's YAML (RecBole's, then ours). A model
    then reads `properties/model/<Class>.yaml` of each class it derives from, the most general first: a kNN model
    reads `NonNeuralSessionModel.yaml`, `SessionKNN.yaml`, then its own (VSTAN also STAN's before its own).
    """
    candidates = [PROPERTIES_DIR / "overall.yaml"]
    base = getattr(model_class, "base_model", None)
    if base is not None:
        candidates += [RECBOLE_PROPERTIES_DIR / "model" / f"{base.__name__}.yaml",
                       PROPERTIES_DIR / "model" / f"{base.__name__}.yaml"]
    candidates += [PROPERTIES_DIR / "model" / f"{cls.__name__}.yaml" for cls in reversed(model_class.__mro__)]
    candidates.append(PROPERTIES_DIR / "dataset" / f"{dataset}.yaml")
    return [path for path in dict.fromkeys(candidates) if path.is_file()]


def plain_config(config: Config) -> dict[str, Any]:
    """The resolved config as JSON-compatible values (for result files and weights_only checkpoints)."""
    return {str(key): _plain(value) for key, value in config.final_config_dict.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value
