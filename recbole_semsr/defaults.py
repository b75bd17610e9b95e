"""Where this package's YAML files live, and its defaults as read from them (the one source of every default).

In a wheel the YAML files ship inside the package (`recbole_semsr/properties/`, built from the repository's
top-level `properties/`); in a source checkout (editable install, or run from the repository) they are read from
`properties/` beside the package.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

_PACKAGE_DIR = Path(__file__).resolve().parent


class SafeFloatLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that also reads `1e-3` (no dot) as a float, as RecBole's loader does."""


SafeFloatLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def properties_dir() -> Path:
    """The folder holding `overall.yaml`, `model/` and `dataset/`: the installed copy, else the checkout's."""
    for candidate in (_PACKAGE_DIR / "properties", _PACKAGE_DIR.parent / "properties"):
        if (candidate / "overall.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"recbole-semsr's YAML files were found neither in {_PACKAGE_DIR / 'properties'} (installed wheel) nor in "
        f"{_PACKAGE_DIR.parent / 'properties'} (source checkout); reinstall the package"
    )


class ConfigFileError(ValueError):
    """A settings file that cannot be used: names the file (and the line) and what was expected."""


class DuplicateKeyError(yaml.YAMLError):
    """A mapping that gives the same key twice (plain YAML would keep the last one without a word)."""

    def __init__(self, key: Any, first_line: int, second_line: int) -> None:
        super().__init__(f"key {key!r} is given twice (lines {first_line} and {second_line})")


class SettingsLoader(SafeFloatLoader):
    """`SafeFloatLoader` that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in first_lines:
                raise DuplicateKeyError(key, first_lines[key], line)
            if isinstance(key, Hashable):
                first_lines[key] = line
        return super().construct_mapping(node, deep)


def recbole_properties_dir() -> Path:
    """RecBole's own YAML defaults (`overall.yaml`, `model/`, `dataset/`, `quick_start_config/`)."""
    import recbole

    return Path(recbole.__file__).resolve().parent / "properties"


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A settings file as a mapping, read with the safe loader; an empty or comment-only file is `{}`.

    Raises `ConfigFileError` naming the file (and the line) for invalid YAML, a key given twice, text that is not
    UTF-8, or a document that is not a mapping (a list, a bare value).
    """
    try:
        loaded = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=SettingsLoader)
    except DuplicateKeyError as error:
        raise ConfigFileError(f"{path}: {error}") from error
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigFileError(f"{path}{where}: not valid YAML ({error.problem or error.context})") from error
    except UnicodeDecodeError as error:
        raise ConfigFileError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from error
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigFileError(f"{path}: expected a mapping of settings (key: value lines), found a "
                              f"{type(loaded).__name__}")
    return loaded


@functools.lru_cache(maxsize=1)
def overall_defaults() -> dict[str, Any]:
    """`properties/overall.yaml` as a dict: the default of every setting this package adds to RecBole's."""
    return read_yaml(properties_dir() / "overall.yaml")


def default(key: str) -> Any:
    """The `overall.yaml` default of one setting (KeyError when the file does not define it)."""
    return overall_defaults()[key]
