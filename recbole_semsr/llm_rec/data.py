"""Read the session samples (`.inter`) the converters write; item texts come through the embedding store's `.item`
reader (`recbole_semsr.embeddings`), so the LLM sees the same cleaned text as the encoder."""
from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from recbole_semsr.embeddings.item_file import ItemTable

SESSION_COLUMNS = ("session_id", "item_id_list", "item_id")


class AtomicFileError(ValueError):
    """A RecBole atomic file is missing, lacks a column, or has a malformed row."""


@dataclass(frozen=True)
class SessionSample:
    """One incremental session sample: the prefix `items` (most recent last) predicts `target`."""

    session_id: str
    items: tuple[str, ...]
    target: str
    timestamp: float | None = None


def _read_table(path: Path) -> tuple[dict[str, int], Iterator[tuple[int, list[str]]]]:
    """Open a tab-separated atomic file; return {field name without type: column index} and (line, row) pairs."""
    if not path.is_file():
        raise AtomicFileError(f"{path}: file not found")
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as handle:
        header = handle.readline().rstrip("\r\n")
    if not header:
        raise AtomicFileError(f"{path}: empty file, expected a header such as 'item_id:token'")
    columns = {field.split(":", 1)[0]: index for index, field in enumerate(header.split("\t"))}
    return columns, _data_rows(path)


def _data_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) for every non-empty row after the header, quoting as pandas/RecBole read it."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader)
        for row in reader:
            if row:
                yield reader.line_num, row


def _require_columns(path: Path, columns: dict[str, int], needed: tuple[str, ...]) -> None:
    missing = [name for name in needed if name not in columns]
    if missing:
        raise AtomicFileError(f"{path}: header lacks column(s) {missing}; found {sorted(columns)}")


def read_sessions(path: Path) -> list[SessionSample]:
    """Read `session_id:token, item_id_list:token_seq, item_id:token[, timestamp:float]` rows in file order."""
    columns, rows = _read_table(path)
    _require_columns(path, columns, SESSION_COLUMNS)
    sid, seq, target = (columns[name] for name in SESSION_COLUMNS)
    time_col = columns.get("timestamp")
    samples = []
    for line_no, row in rows:
        if len(row) <= max(sid, seq, target):
            raise AtomicFileError(f"{path}, line {line_no}: expected {len(columns)} tab-separated fields, got {len(row)}")
        items = tuple(row[seq].split())
        if not items or not row[target]:
            raise AtomicFileError(f"{path}, line {line_no}: empty item_id_list or item_id")
        timestamp = float(row[time_col]) if time_col is not None and row[time_col] else None
        samples.append(SessionSample(row[sid], items, row[target], timestamp))
    return samples


def item_titles(table: ItemTable, field: str = "title") -> dict[str, str]:
    """Item token -> its `field` text, cleaned as the embedding store cleans it ('' where empty), in file order."""
    if field not in table.field_types:
        raise AtomicFileError(f"{table.path}, line 1: no column {field!r} to show to the LLM "
                              f"(columns: {', '.join(table.field_types)}); set --text_field")
    return {token: table.values[token].get(field, "") for token in table.tokens}


def most_recent(samples: list[SessionSample], n: int | None) -> list[SessionSample]:
    """The `n` most recent samples: by `timestamp` when every sample has one, else the last `n` in file order."""
    if not n or n >= len(samples):
        return list(samples)
    if all(sample.timestamp is not None for sample in samples):
        order = sorted(range(len(samples)), key=lambda i: (samples[i].timestamp, i))
        return [samples[i] for i in sorted(order[-n:])]
    return list(samples[-n:])
