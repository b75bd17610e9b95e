"""Reader for RecBole `.item` atomic files that keeps every value as clean display text.

RecBole's own loader is not used here: the item texts are needed before (and independently of) a RecBole
`Dataset`, and every bad row must be reported with its file and line. Quoting follows pandas' defaults (the
way RecBole reads the same file): fields may be wrapped in double quotes, a doubled quote is a literal quote.
"""
from __future__ import annotations

import codecs
import csv
import html
import math
import re
import sys
from dataclasses import dataclass, field
from collections.abc import Iterator
from pathlib import Path

from recbole_semsr.embeddings.errors import DuplicateItemError, ItemFileError

FIELD_TYPES = ("token", "token_seq", "float", "float_seq")
MISSING_MARKERS = frozenset({"", "nan", "none", "null", "n/a", "<na>"})
_WHITESPACE = re.compile(r"\s+")


@dataclass
class ItemTable:
    """Items of one `.item` file in file order: `values[token][field]` is clean text, absent when missing."""

    path: Path
    item_field: str
    field_types: dict[str, str]
    tokens: list[str] = field(default_factory=list)
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tokens)


def bom_tolerant(encoding: str) -> str:
    """`utf-8-sig` for UTF-8 (a leading byte-order mark is dropped, as the converters drop it), else `encoding`."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def display_text(raw: str) -> str | None:
    """Unescape HTML entities, collapse whitespace (tabs, newlines); `None` for empty or NaN-like values."""
    text = _WHITESPACE.sub(" ", html.unescape(raw)).strip()
    return None if text.lower() in MISSING_MARKERS else text


def format_float(raw: str, where: str) -> str | None:
    """Render a float cell compactly (`5.04`, `12`); missing or non-finite values give `None`."""
    text = raw.strip()
    if text.lower() in MISSING_MARKERS:
        return None
    try:
        number = float(text)
    except ValueError as exc:
        raise ItemFileError(f"{where}: expected a float, got {raw!r}") from exc
    return format(number, ".15g") if math.isfinite(number) else None


def format_sequence(raw: str, seq_separator: str) -> str | None:
    """A `token_seq`/`float_seq` cell as text: elements joined by ', ' (kept as is when the separator is a space)."""
    if seq_separator.strip():
        parts = [part for part in (display_text(piece) for piece in raw.split(seq_separator)) if part]
        return ", ".join(parts) or None
    return display_text(raw)


def cell_display_text(raw: str, field_type: str, seq_separator: str, where: str) -> str | None:
    """Clean display text of one cell according to its RecBole type."""
    if field_type == "float":
        return format_float(raw, where)
    if field_type.endswith("_seq"):
        return format_sequence(raw, seq_separator)
    return display_text(raw)


def parse_header(header: list[str], path: Path) -> dict[str, str]:
    """`name:type` columns → {name: type}, with the type checked against RecBole's four field types."""
    field_types: dict[str, str] = {}
    for column in header:
        name, _, field_type = column.strip().partition(":")
        if field_type not in FIELD_TYPES:
            raise ItemFileError(
                f"{path}, line 1: column {column!r} is not 'name:type' with type in {', '.join(FIELD_TYPES)}"
            )
        if name in field_types:
            raise ItemFileError(f"{path}, line 1: column {name!r} appears twice")
        field_types[name] = field_type
    return field_types


def read_item_file(
    path: str | Path,
    item_field: str = "item_id",
    field_separator: str = "\t",
    seq_separator: str = " ",
    encoding: str = "utf-8",
) -> ItemTable:
    """Read a RecBole `.item` file; raises `ItemFileError` / `DuplicateItemError` naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise ItemFileError(f"item file {path} not found (expected the dataset's RecBole `.item` atomic file)")
    csv.field_size_limit(sys.maxsize)  # a field of any length is read; the text template cuts it (sem_max_field_chars)
    with path.open(encoding=bom_tolerant(encoding), newline="") as handle:
        reader = csv.reader(handle, delimiter=field_separator, quotechar='"', doublequote=True)
        try:
            return read_rows(reader, path, item_field, seq_separator)
        except csv.Error as error:
            raise ItemFileError(f"{path}, line {reader.line_num}: {error}") from error


def read_rows(reader: Iterator[list[str]], path: Path, item_field: str, seq_separator: str) -> ItemTable:
    """The header and rows of an open `.item` file (`read_item_file`)."""
    header = next(reader, None)
    if header is None:
        raise ItemFileError(f"{path}: file is empty (expected a header like 'item_id:token<TAB>title:token')")
    field_types = parse_header(header, path)
    if item_field not in field_types:
        raise ItemFileError(f"{path}, line 1: no {item_field!r} column (columns: {', '.join(field_types)})")
    table = ItemTable(path=path, item_field=item_field, field_types=field_types)
    names = list(field_types)
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or row == [""]:
            continue
        if len(row) != len(names):
            raise ItemFileError(f"{path}, line {line}: expected {len(names)} fields, found {len(row)}")
        cells = dict(zip(names, row))
        token = cells.pop(item_field).strip()
        if not token:
            raise ItemFileError(f"{path}, line {line}: empty {item_field}")
        if token in first_line:
            raise DuplicateItemError(
                f"{path}, line {line}: item {token!r} already defined on line {first_line[token]}"
            )
        first_line[token] = line
        rendered = {
            name: cell_display_text(raw, field_types[name], seq_separator, f"{path}, line {line}, column {name!r}")
            for name, raw in cells.items()
        }
        table.tokens.append(token)
        table.values[token] = {name: text for name, text in rendered.items() if text is not None}
    return table
