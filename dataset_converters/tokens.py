"""Ids and text as they go into an atomic file: usable ids, ids pandas would read as missing, one-line text."""
from __future__ import annotations

import re

_WHITESPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"^[^\s'\"]+$")

PANDAS_MISSING = frozenset({"#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                            "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})
"""Texts that pandas (and so RecBole, reading an atomic file) turns into a missing value by default."""


def loadable_token(value: str) -> str:
    """``value``, or ``_value`` when pandas would read it as missing (``NA``, ``null``, ``nan``, ...): in an atomic
    file such an id would become the padding item."""
    return f"_{value}" if value in PANDAS_MISSING else value


def is_token(value: str) -> bool:
    """True for a usable id: non-empty, without whitespace or quotes (RecBole splits token_seq on spaces)."""
    return bool(_TOKEN.match(value))


def clean_text(value: object) -> str:
    """One-line text for an atomic file: tabs, newlines and runs of spaces become one space."""
    if value is None:
        return ""
    return _WHITESPACE.sub(" ", str(value)).strip()
