"""The dataset registry: each converter module declares the dataset(s) it produces.

A declaration (`register(DatasetSpec(...))` at the end of a converter module) names the dataset, the raw files it is
converted from, the function that converts them, and where to download them. `dataset_converters.prepare` looks a
dataset up here, so adding a dataset means one converter module (plus its `properties/dataset/<name>.yaml` when it
needs settings of its own); every module of this package is imported on the first lookup.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class RawFile:
    """One raw input: the converter flag it feeds, accepted file names (first found wins), and whether optional."""

    flag: str
    names: tuple[str, ...]
    optional: bool = False


ConvertFunction = Callable[[str, Mapping[str, "Path | None"], Path], dict]
"""`convert(dataset_name, raw files by flag (None when an optional one is absent), output_dir) -> stats`."""


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset a converter produces.

    `name` is the dataset name, or with `pattern` a display name such as `kdd_m2_<locale>` for a family of names.
    `module` is the converter's CLI (`python -m <module>`); `command_args(name)` adds the flags a name implies.
    `writes_item_file` is False for converters without item text (their dataset is complete without `.item`).
    """

    name: str
    module: str
    raw_files: tuple[RawFile, ...]
    convert: ConvertFunction
    download_hint: str
    pattern: re.Pattern[str] | None = None
    command_args: Callable[[str], list[str]] = field(default=lambda name: [])
    writes_item_file: bool = True

    def matches(self, dataset: str) -> bool:
        """True when `dataset` is this spec's name (or matches its pattern)."""
        return bool(self.pattern.fullmatch(dataset)) if self.pattern is not None else dataset == self.name


_REGISTRY: dict[str, DatasetSpec] = {}
_discovered = False


def register(spec: DatasetSpec) -> DatasetSpec:
    """Declare a dataset (a later declaration of the same name replaces the earlier one); returns `spec`."""
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a declaration (tests)."""
    _REGISTRY.pop(name, None)


def discover() -> None:
    """Import every module of `dataset_converters` once, so that their declarations run."""
    global _discovered
    if _discovered:
        return
    package = importlib.import_module("dataset_converters")
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"dataset_converters.{module.name}")
    _discovered = True


def find_dataset(dataset: str) -> DatasetSpec | None:
    """The declaration that produces `dataset`, None when no converter declares it."""
    discover()
    return next((spec for spec in reversed(list(_REGISTRY.values())) if spec.matches(dataset)), None)


def registered_datasets() -> list[DatasetSpec]:
    """Every declared dataset, in declaration order."""
    discover()
    return list(_REGISTRY.values())
