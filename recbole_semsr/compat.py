"""Every fix the current dependency stack needs, in one place (why each is needed: docs/dependencies.md).

`apply()` is idempotent and runs when `recbole_semsr` is imported, before any RecBole module is used.
`require_extra` imports a package of an optional extra (setup.cfg), or says in one line how to install it.
"""
from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType

import numpy as np
import torch

_NUMPY_ALIASES = {
    "float_": np.float64,
    "complex_": np.complex128,
    "unicode_": np.str_,
    "bool8": np.bool_,
    "bool": np.bool_,
    "int": np.int_,
    "float": np.float64,
    "complex": np.complex128,
    "object": np.object_,
    "str": np.str_,
    "long": np.int_,
    "unicode": np.str_,
}
_applied = False
DISTRIBUTION = "recbole-semsr"


class MissingExtraError(ImportError):
    """An optional package is not installed; the message is one line that names the `pip install` command."""


def missing_extra_message(feature: str, extra: str, module: str) -> str:
    """`<feature> needs the [<extra>] extra (no module named '<module>'): pip install "recbole-semsr[<extra>]"`."""
    return (f"{feature} needs the [{extra}] extra (no module named {module!r}): "
            f'pip install "{DISTRIBUTION}[{extra}]"')


def require_extra(module: str, extra: str, feature: str,
                  error: type[MissingExtraError] = MissingExtraError) -> ModuleType:
    """Import `module`, which the `extra` of setup.cfg installs for `feature` (e.g. "the angle encoder"); when it,
    or a package it imports, is missing, raise `error` with `missing_extra_message`."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as missing:
        raise error(missing_extra_message(feature, extra, missing.name or module)) from missing


def restore_numpy_aliases() -> None:
    """RecBole's Config and ray 2.6.3 Tune use aliases that numpy 2 removed (`np.float_`, `np.bool8`, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, value in _NUMPY_ALIASES.items():
            if name not in np.__dict__:
                setattr(np, name, value)


def quiet_known_warnings() -> None:
    """pandas 2.3 FutureWarnings raised inside RecBole's dataset code say nothing a user can act on."""
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"recbole\..*")
    warnings.filterwarnings("ignore", message=".*pkg_resources is deprecated.*")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")


def disable_global_anomaly_detection() -> None:
    """Importing RecBole's sequential models (sine.py) turns on autograd anomaly detection process-wide (~3x slower)."""
    import recbole.model.sequential_recommender  # noqa: F401  (the import is what flips the switch)

    torch.autograd.set_detect_anomaly(False)


def apply() -> None:
    """Apply every compatibility fix once."""
    global _applied
    if _applied:
        return
    restore_numpy_aliases()
    quiet_known_warnings()
    disable_global_anomaly_detection()
    _applied = True


def safe_torch_load(path: str, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by `recbole_semsr.trainer` (tensors and plain Python values only)."""
    return torch.load(path, map_location=map_location, weights_only=True)
