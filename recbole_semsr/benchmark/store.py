"""Resumable results store: one JSON result record per (dataset, model, seed) run."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recbole_semsr.io import write_json

REQUIRED_KEYS = ("model", "dataset", "test_result")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass
class LoadedRecords:
    """Records read from disk, and the files skipped (path and reason) because they were not result records."""

    records: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class ResultsStore:
    """``<root>/runs/<dataset>/<model>/seed<seed>.json``; a run whose file exists is done and is not repeated."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"

    def path_for(self, model: str, dataset: str, seed: int) -> Path:
        return self.runs_dir / _safe(dataset) / _safe(model) / f"seed{seed}.json"

    def has(self, model: str, dataset: str, seed: int) -> bool:
        return self.path_for(model, dataset, seed).is_file()

    def set_aside_unusable(self, model: str, dataset: str, seed: int) -> str | None:
        """Move a stored record that is not a valid result record to ``seed<N>.json.corrupt[-<k>]``, so the run is
        done again; returns the sentence saying so, or None when the record is fine or absent."""
        path = self.path_for(model, dataset, seed)
        if not path.is_file():
            return None
        record, problem = _read_record(path)
        if record is not None:
            return None
        aside = path.with_name(path.name + ".corrupt")
        count = 1
        while aside.exists():
            aside = path.with_name(f"{path.name}.corrupt-{count}")
            count += 1
        os.replace(path, aside)
        return f"stored run {path} is unusable ({problem}): moved to {aside.name}, running it again"

    def get(self, model: str, dataset: str, seed: int) -> dict[str, Any] | None:
        """The stored record of one run, or None."""
        path = self.path_for(model, dataset, seed)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def save(self, record: dict[str, Any], model: str, dataset: str, seed: int) -> Path:
        """Write atomically (temporary file, then rename), so an interrupted run never leaves a half file."""
        return write_json(self.path_for(model, dataset, seed), {**record, "seed": seed}, default=str)

    def load(self) -> LoadedRecords:
        """Every stored record (sorted by path); unreadable files are skipped and named."""
        return load_result_files(sorted(self.runs_dir.glob("*/*/seed*.json")))


def load_result_files(paths: list[Path]) -> LoadedRecords:
    """Read result JSONs (this store's, or extra ones such as the LLM-as-recommender CLI's ``--result_file``)."""
    loaded = LoadedRecords()
    for path in paths:
        record, problem = _read_record(Path(path))
        if record is None:
            loaded.skipped.append(f"{path}: {problem}")
        else:
            loaded.records.append(record)
    return loaded


def _read_record(path: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        return None, f"cannot read ({error.strerror})"
    except json.JSONDecodeError as error:
        return None, f"not valid JSON (line {error.lineno}: {error.msg})"
    if not isinstance(record, dict):
        return None, "expected a JSON object"
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        return None, f"missing keys {missing} (expected a result record with {list(REQUIRED_KEYS)})"
    if not isinstance(record["test_result"], dict):
        return None, "test_result is not an object of metrics (was the run made with evaluate_test=False?)"
    return record, ""


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", str(name))
