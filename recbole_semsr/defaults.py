"""Where this package's YAML files live, and its defaults as read from them (the one source of every default).

In a wheel the YAML files ship inside the package (`recbole_semsr/properties/`, built from the repository's
top-level `properties/`); in a source checkout (editable install, or run from the repository) they are read from
`properties/` beside the package.
"""
from __future__ import annotations

import functools
import re
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


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping read with the safe loader (an empty or comment-only file is `{}`)."""
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeFloatLoader)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping of settings, found {type(loaded).__name__}")
    return loaded


@functools.lru_cache(maxsize=1)
def overall_defaults() -> dict[str, Any]:
    """`properties/overall.yaml` as a dict: the default of every setting this package adds to RecBole's."""
    return read_yaml(properties_dir() / "overall.yaml")


def default(key: str) -> Any:
    """The `overall.yaml` default of one setting (KeyError when the file does not define it)."""
    return overall_defaults()[key]
