"""Command line: top-k lists for a file of sessions from a trained checkpoint (docs/recommend.md).

    python -m recbole_semsr.recommend --checkpoint=saved/SemNISER_F-....pth --sessions=in.jsonl \
        --output=out.jsonl --k=20

Sessions come as JSON lines (`{"session_id": "s1", "items": ["B0009RF9DW", "B000142FVW"]}`, oldest item first) or
as CSV/TSV with one row per event (`session_id,item_id` columns, events of a session in the order they happened).
Each output line holds the session id, the top-k ids, scores, titles (when the dataset has an item table), the
session's unknown ids and the fallback used. Bad input stops with one line naming the file and line; an existing
output is never overwritten without --overwrite.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from recbole_semsr.embeddings.errors import EmbeddingError
from recbole_semsr.model import UnknownModelError
from recbole_semsr.new_items import NewItemsUnsupportedError
from recbole_semsr.provenance import CheckpointMismatchError
from recbole_semsr.recommender import RecommendError, Recommender

CSV_COLUMNS = ("session_id", "item_id")


class SessionFileError(ValueError):
    """A sessions file that cannot be read: names the file, the line and what was expected."""


# Errors about the user's input: printed as their one-line message, without a traceback.
INPUT_ERRORS = (SessionFileError, RecommendError, NewItemsUnsupportedError, CheckpointMismatchError,
                EmbeddingError, UnknownModelError)


@dataclass
class Session:
    session_id: str
    items: list[str]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Top-k recommendations for a file of sessions from a trained "
                                     "checkpoint of the runner (any model, '+' pairs with --rerank_with).")
    parser.add_argument("--checkpoint", required=True, help="a .pth file written by the runner")
    parser.add_argument("--sessions", required=True, type=Path,
                        help="JSON lines ({\"session_id\": ..., \"items\": [ids]}) or CSV/TSV (session_id,item_id "
                        "per event)")
    parser.add_argument("--output", required=True, type=Path, help="JSON lines, one top-k list per session")
    parser.add_argument("--k", type=int, default=20, help="length of each list (default 20)")
    parser.add_argument("--rerank_with", default=None, help="a second checkpoint that reorders each list ('+')")
    parser.add_argument("--new_items", type=Path, default=None,
                        help="item table (.item, the sessions converter's format) of items added after training, "
                        "with text (SemSR-F models only)")
    parser.add_argument("--include_session_items", action="store_true",
                        help="let the session's own items be recommended (excluded by default)")
    parser.add_argument("--batch_size", type=int, default=100, help="sessions scored at once (default 100)")
    parser.add_argument("--data_path", default=None,
                        help="folder holding <dataset>/ when the data moved since training")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: as the checkpoint was trained)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    return parser


def read_sessions(path: Path) -> list[Session]:
    """Sessions of a JSON-lines or CSV/TSV file (by suffix, `.gz` not supported), in file order."""
    if not path.is_file():
        raise SessionFileError(f"{path}: sessions file not found")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return list(json_line_sessions(path))
    if suffix in (".csv", ".tsv"):
        return csv_sessions(path, "\t" if suffix == ".tsv" else ",")
    raise SessionFileError(f"{path}: expected a .jsonl (JSON lines) or .csv/.tsv sessions file")


def json_line_sessions(path: Path) -> Iterator[Session]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield json_line_session(line, f"{path}, line {number}", number)


def json_line_session(line: str, where: str, number: int) -> Session:
    """One JSON line: an object with `items` (a list of string ids) and an optional `session_id`."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise SessionFileError(f"{where}: not JSON ({error.msg} at column {error.colno})") from error
    items = record.get("items") if isinstance(record, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise SessionFileError(f"{where}: expected an object with \"items\": a list of item ids as strings, "
                               f"e.g. {{\"session_id\": \"s1\", \"items\": [\"B0009RF9DW\"]}}")
    session_id = record.get("session_id", number)
    if not isinstance(session_id, (str, int)) or isinstance(session_id, bool):
        raise SessionFileError(f"{where}: session_id must be a string or an integer, got {session_id!r}")
    return Session(str(session_id), items)


def csv_sessions(path: Path, delimiter: str) -> list[Session]:
    """One row per event; a session's events in file order, sessions in the order of their first event."""
    sessions: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        if reader.fieldnames is None or not set(CSV_COLUMNS) <= set(reader.fieldnames):
            raise SessionFileError(f"{path}, line 1: expected the columns {', '.join(CSV_COLUMNS)}, found "
                                   f"{reader.fieldnames}")
        for row in reader:
            session_id, item = (row.get(column) for column in CSV_COLUMNS)
            if not session_id or not item or None in row:
                raise SessionFileError(f"{path}, line {reader.line_num}: expected a session_id and an item_id "
                                       f"({len(reader.fieldnames)} fields), found {list(row.values())}")
            sessions.setdefault(session_id.strip(), []).append(item.strip())
    return [Session(session_id, items) for session_id, items in sessions.items()]


def check_output(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise SessionFileError(f"{path} exists; pass --overwrite to replace it")


def recommend_file(recommender: Recommender, sessions: list[Session], output: Path, k: int, exclude: bool,
                   batch_size: int) -> dict[str, int]:
    """Write one top-k list per session to `output` (atomically) and return the counts for the summary."""
    counts = {"sessions": 0, "ids": 0, "unknown": 0, "sessions_with_unknown": 0, "popularity": 0, "text": 0}
    temporary = output.with_name(output.name + f".tmp{os.getpid()}")
    output.parent.mkdir(parents=True, exist_ok=True)
    with temporary.open("w", encoding="utf-8") as handle, tqdm(total=len(sessions), unit=" sessions",
                                                                desc="recommending") as progress:
        for start in range(0, len(sessions), batch_size):
            chunk = sessions[start:start + batch_size]
            found = recommender.recommend_batch([session.items for session in chunk], k, exclude, batch_size)
            for session, result in zip(chunk, found):
                handle.write(json.dumps({"session_id": session.session_id, **result.to_dict()}) + "\n")
                count_result(counts, session, result.unknown, result.fallback)
            progress.update(len(chunk))
    os.replace(temporary, output)
    return counts


def count_result(counts: dict[str, int], session: Session, unknown: list[str], fallback: str | None) -> None:
    counts["sessions"] += 1
    counts["ids"] += len(session.items)
    counts["unknown"] += len(unknown)
    counts["sessions_with_unknown"] += bool(unknown)
    if fallback:
        counts[fallback] += 1


def summary(counts: dict[str, int], model: str, output: Path, k: int) -> str:
    return (f"{model}: served {counts['sessions']} sessions ({counts['popularity']} by popularity: no known id; "
            f"{counts['text']} from the text of new items only); {counts['unknown']} of {counts['ids']} ids unknown "
            f"(skipped, in {counts['sessions_with_unknown']} sessions); top-{k} lists written to {output}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        check_output(args.output, args.overwrite)
        sessions = read_sessions(args.sessions)
        recommender = Recommender.load(args.checkpoint, args.rerank_with, args.data_path, args.device)
        if args.new_items is not None:
            print(f"new items from {args.new_items}: {recommender.add_items(args.new_items)}")
        recommender.check_k(args.k)
        counts = recommend_file(recommender, sessions, args.output, args.k, not args.include_session_items,
                                args.batch_size)
    except INPUT_ERRORS as error:
        raise SystemExit(f"error: {error}") from error
    print(summary(counts, recommender.model_name, args.output, args.k))
    return counts


if __name__ == "__main__":
    main()
