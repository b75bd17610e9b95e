"""RecBole `Config` that knows this package's models and YAML files."""
from __future__ import annotations

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
from recbole_semsr.model import get_model

PROPERTIES_DIR = properties_dir()
RECBOLE_PROPERTIES_DIR = recbole_properties_dir()


class SemSRConfig(Config):
    """Config whose model lookup tries `recbole_semsr.model` first, then RecBole's own models.

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
        if isinstance(model, str):
            model = get_model(model)
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

    A SemSR variant (a class with `base_model`) first takes its base model's YAML (RecBole's, then ours).
    """
    candidates = [PROPERTIES_DIR / "overall.yaml"]
    base = getattr(model_class, "base_model", None)
    if base is not None:
        candidates += [RECBOLE_PROPERTIES_DIR / "model" / f"{base.__name__}.yaml",
                       PROPERTIES_DIR / "model" / f"{base.__name__}.yaml"]
    candidates += [PROPERTIES_DIR / "model" / f"{model_class.__name__}.yaml",
                   PROPERTIES_DIR / "dataset" / f"{dataset}.yaml"]
    return [path for path in candidates if path.is_file()]


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
