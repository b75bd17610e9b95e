r"""Your own sessions -> RecBole benchmark files, with the same session protocol as the Beauty and Amazon-M2 converters.

Input: one row per interaction (session, item, time) in CSV, TSV, parquet or JSON lines; optionally an item table
with text columns. Protocol (each step a flag, defaults in brackets): items with at least ``--min_item_freq`` [1]
interactions are kept (one pass); each session's interactions are ordered by time (equal times by ``--tie_order``
[random]: at random with the seed, or ``file``: in file order); a new session starts after a gap of more than
``--session_gap`` seconds [off]; the most recent ``--max_len`` [50] items
are kept; sessions shorter than ``--min_session_len`` [2] are dropped; sessions are split ``--split`` [0.8 0.1 0.1]
at random with ``--seed`` [2025] (``--split_by session``) or by the time of their last interaction, the latest
last (``--split_by time``); every prefix of a session predicts its next item.

    python -m dataset_converters.sessions --interactions events.csv --session_col session --item_col item \
        --time_col ts [--items items.csv --item_id_col item --text_cols title,brand] --output_dir dataset/NAME

Writes ``NAME.{train,valid,test}.inter``, ``NAME.stats.json`` and, with ``--items``, ``NAME.item`` (the text the
Sem models encode) plus ``NAME.yaml`` (``sem_text_template`` over the text columns, read by the runner).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import yaml

from dataset_converters import protocol as session_protocol
from dataset_converters.command_line import converter_parser, run_cli_conversion
from dataset_converters.event_times import DEFAULT_TIME_RANGE, add_time_range_argument, check_time_format, parse_time
from dataset_converters.problems import ConversionError, ProblemLog
from dataset_converters.protocol import Event, SessionProtocol
from dataset_converters.readers import check_encoding, iter_text_lines, read_delimited_records
from dataset_converters.stats import table1_stats, write_stats
from dataset_converters.tokens import is_token, loadable_token
from dataset_converters.writers import ItemFileWriter, atomic_output_dir, check_output_dir

FORMATS = ("csv", "tsv", "parquet", "jsonl")
_SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".inter": "tsv", ".item": "tsv",
                   ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


@dataclass(frozen=True)
class Columns:
    """Where the fields are: interactions' session/item/time columns, the item table's id and text columns."""

    session: str
    item: str
    time: str
    item_id: str = "item_id"
    text: tuple[str, ...] = ()


def file_format(path: Path, given: str | None = None) -> str:
    """`given`, else the format named by the file's suffix (``.gz`` skipped)."""
    if given:
        return given
    suffixes = [suffix for suffix in path.suffixes if suffix != ".gz"]
    found = _SUFFIX_FORMATS.get(suffixes[-1].lower()) if suffixes else None
    if found is None:
        raise ConversionError(f"{path}: cannot tell the format from the name; pass --format {'|'.join(FORMATS)}")
    return found


def iter_rows(path: Path, fmt: str, wanted: Sequence[str], encoding: str,
              problems: ProblemLog) -> Iterator[tuple[int, dict[str, object]]]:
    """Yield ``(line, {column: value})`` for the `wanted` columns of every row (parquet: the row number).

    A header without a wanted column is an error; a row with the wrong field count, or a JSON line that is not an
    object, is reported and skipped. Typed RecBole headers (``item_id:token``) match by the name before the colon.
    """
    if not path.is_file():
        raise ConversionError(f"{path}: file not found")
    if fmt == "parquet":
        yield from _parquet_rows(path, wanted)
    elif fmt == "jsonl":
        yield from _json_rows(path, wanted, encoding, problems)
    else:
        yield from _delimited_rows(path, "\t" if fmt == "tsv" else ",", wanted, encoding, problems)


def _column_index(path: Path, header: Sequence[str], wanted: Sequence[str]) -> dict[str, int]:
    names = [name.strip().lstrip("\ufeff") for name in header]
    index = {}
    for column in wanted:
        matches = [i for i, name in enumerate(names) if name == column or name.split(":", 1)[0] == column]
        if not matches:
            raise ConversionError(f"{path}:1: no column {column!r} in the header (columns: {', '.join(names)})")
        index[column] = matches[0]
    return index


def _delimited_rows(path: Path, delimiter: str, wanted: Sequence[str], encoding: str,
                    problems: ProblemLog) -> Iterator[tuple[int, dict[str, object]]]:
    header, records = read_delimited_records(path, encoding, problems, path.name, delimiter)
    if header is None:
        raise ConversionError(f"{path}:1: empty file, expected a header naming {', '.join(wanted)}")
    index = _column_index(path, header, wanted)
    for line, record in records:
        if record is not None:
            yield line, {column: record[i] for column, i in index.items()}


def _json_rows(path: Path, wanted: Sequence[str], encoding: str,
               problems: ProblemLog) -> Iterator[tuple[int, dict[str, object]]]:
    for number, text in iter_text_lines(path, encoding, problems, desc=path.name):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            problems.report(path, number, "not a JSON object")
            continue
        yield number, {column: record.get(column) for column in wanted}


def _parquet_rows(path: Path, wanted: Sequence[str]) -> Iterator[tuple[int, dict[str, object]]]:
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    _column_index(path, names, wanted)
    table = pq.read_table(path, columns=list(wanted))
    for number, record in enumerate(table.to_pylist(), start=1):
        yield number, record


def _token(value: object) -> str:
    return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class TimeRule:
    """How the time column is read (``dataset_converters.event_times``)."""

    format: str = "auto"
    range: tuple[int, int] = DEFAULT_TIME_RANGE


@dataclass
class IdRenames:
    """Ids that pandas would read as missing, renamed (``NA`` -> ``_NA``), with their count."""

    count: int = 0
    renamed: set[str] = field(default_factory=set)

    def apply(self, value: str, path: Path, line: int, problems: ProblemLog) -> str:
        safe = loadable_token(value)
        if safe != value:
            self.count += 1
            self.renamed.add(safe)
            problems.report(path, line, "id read as missing by pandas, renamed", f"{value!r} -> {safe!r}")
        return safe

    def check_no_collision(self, ids: set[str], path: Path) -> None:
        clash = sorted(self.renamed & ids)
        if clash:
            raise ConversionError(f"{path}: renamed id {clash[0]!r} is also an id of the file; rename it yourself")


def read_interactions(path: Path, fmt: str, columns: Columns, encoding: str, problems: ProblemLog,
                      times: TimeRule = TimeRule()) -> list[Event]:
    """Every usable interaction; a missing field, an id with whitespace or quotes, or a refused time is reported,
    and an id that pandas would read as missing is renamed and reported."""
    wanted = (columns.session, columns.item, columns.time)
    rows, renames, originals = [], IdRenames(), set()
    for line, record in iter_rows(path, fmt, wanted, encoding, problems):
        session, item = _token(record[columns.session]), _token(record[columns.item])
        if not session or not item:
            problems.report(path, line, "missing session or item id")
        elif not (is_token(session) and is_token(item)):
            problems.report(path, line, "bad session or item id", "ids may not hold whitespace or quotes")
        else:
            moment = parse_time(record[columns.time], times.format, times.range)
            if isinstance(moment, str):
                problems.report(path, line, f"bad {columns.time}", moment)
            else:
                originals.update((session, item))
                rows.append(Event(renames.apply(session, path, line, problems), renames.apply(item, path, line, problems),
                                  moment, line))
    renames.check_no_collision(originals, path)
    return rows


def read_item_rows(path: Path, fmt: str, columns: Columns, encoding: str,
                   problems: ProblemLog) -> dict[str, dict[str, object]]:
    """Item id -> its text columns (the first row of an id wins; a later duplicate or a bad id is reported)."""
    items: dict[str, dict[str, object]] = {}
    renames = IdRenames()
    for line, record in iter_rows(path, fmt, (columns.item_id, *columns.text), encoding, problems):
        item = _token(record[columns.item_id])
        if item and is_token(item):
            item = renames.apply(item, path, line, problems)
        if not item or not is_token(item):
            problems.report(path, line, f"missing or bad {columns.item_id}")
        elif item in items:
            problems.report(path, line, f"duplicate {columns.item_id}", f"{item}; the first row is kept")
        else:
            items[item] = {column: record[column] for column in columns.text}
    return items


def text_template(text_columns: Sequence[str]) -> list[str]:
    """`sem_text_template` over the text columns: the first as is, the others labelled with their name."""
    return [f"{{{text_columns[0]}}}"] + [f"{column}: {{{column}}}" for column in text_columns[1:]]


def write_item_text(folder: Path, name: str, used: list[str], items: dict[str, dict[str, object]],
                    columns: Columns) -> int:
    """Write ``NAME.item`` for the items in sessions and ``NAME.yaml`` (its text template); returns how many
    items have no row in the item table (written with empty text)."""
    text_columns = [column for column in columns.text if column != "item_id"]
    fields = [("item_id", "token")] + [(column, "token") for column in text_columns]
    with ItemFileWriter(folder / f"{name}.item", fields) as writer:
        for item in used:
            writer.write({"item_id": item, **items.get(item, {})})
    settings = {"sem_text_template": text_template(text_columns)}
    (folder / f"{name}.yaml").write_text(
        "# Written by dataset_converters.sessions: how the Sem models turn this dataset's item rows into text.\n"
        + yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return sum(1 for item in used if item not in items)


def convert_sessions(interactions: Path, output_dir: Path, columns: Columns,
                     protocol: SessionProtocol = SessionProtocol(), items: Path | None = None,
                     name: str | None = None, fmt: str | None = None, items_fmt: str | None = None,
                     encoding: str = "utf-8", strict: bool = False, overwrite: bool = False,
                     times: TimeRule = TimeRule(), keep_duplicates: bool = False) -> dict:
    """Convert an interactions file (and an optional item table) into ``output_dir`` atomically; return the stats.

    Exact duplicate interactions (same session, item and time) are reported and dropped unless ``keep_duplicates``.
    """
    name = name or output_dir.name
    if items is not None and not columns.text:
        raise ConversionError("--items needs --text_cols, the item table's columns that describe an item")
    if (problem := check_time_format(times.format)) is not None:
        raise ConversionError(problem)
    check_encoding(encoding)
    check_output_dir(output_dir, overwrite)
    started = time.perf_counter()
    problems = ProblemLog(strict)
    rows = read_interactions(interactions, file_format(interactions, fmt), columns, encoding, problems, times)
    unique = rows if keep_duplicates else session_protocol.drop_duplicate_events(rows, interactions, problems)
    sessions = session_protocol.build_sessions(unique, protocol)
    if not sessions.events:
        raise ConversionError(f"{interactions}: no session is left after the protocol's filters "
                              f"({len(rows)} usable interactions)")
    item_rows = None if items is None else read_item_rows(items, file_format(items, items_fmt), columns, encoding,
                                                          problems)
    used = sessions.items()
    with atomic_output_dir(output_dir, overwrite) as staging:
        written = session_protocol.split_and_write(staging, name, sessions, protocol)
        stats = {
            "dataset": name,
            "source": {"interactions": str(interactions), "items": None if items is None else str(items)},
            "columns": asdict(columns),
            "protocol": protocol.as_dict(),
            "table1": table1_stats(*written.writers, n_items=len(used),
                                   session_lengths=(len(history) for history in written.item_lists.values())),
            **written.stats,
            "removed": {"duplicate interactions": len(rows) - len(unique), **sessions.removed},
            "input": {"interaction rows usable": len(rows)},
            "time_format": times.format,
        }
        if item_rows is not None:
            stats["items_without_text"] = write_item_text(staging, name, used, item_rows, columns)
            stats["item_table_note"] = item_table_note(used, item_rows, stats["items_without_text"])
        stats["problems"] = problems.as_dict()
        stats = write_stats(staging, name, stats, started)
    return stats


def item_table_note(used: list[str], item_rows: dict[str, dict[str, object]], without_text: int) -> str:
    """One line for the summary: how many items of the sessions have no row in the item table, and the likely
    cause when the ids differ only by a float's ``.0`` (``1034`` against ``1034.0``)."""
    note = f"{without_text:,} of {len(used):,} items have no row in the item table (their text is empty)"
    unmatched = [item for item in used if item not in item_rows]
    if unmatched and any(f"{item}.0" in item_rows for item in unmatched[:1000]):
        note += ("; its ids look like numbers written as floats (1034.0 for 1034): write the id column as integers "
                 "or as text")
    return note


def convert_recbole_inter(name: str, folder: Path) -> dict:
    """Cut a plain RecBole dataset (``folder/NAME.inter`` with user or session, item and timestamp columns) into
    sessions with the default protocol; the benchmark files and stats are added beside it, nothing is replaced."""
    source = folder / f"{name}.inter"
    session_column = _first_column(source, ("session_id", "user_id"))
    columns = Columns(session=session_column, item="item_id", time="timestamp")
    with tempfile.TemporaryDirectory(prefix=f".{name}.sessions-", dir=folder) as staging:
        stats = convert_sessions(source, Path(staging) / name, columns, name=name, fmt="tsv")
        for produced in sorted((Path(staging) / name).iterdir()):
            target = folder / produced.name
            if target.exists():
                raise ConversionError(f"{target} exists already; remove it or convert {source} yourself with "
                                      f"python -m dataset_converters.sessions")
            shutil.move(str(produced), str(target))
    return stats


def _first_column(path: Path, candidates: Sequence[str]) -> str:
    with open(path, encoding="utf-8") as handle:
        names = [field.split(":", 1)[0] for field in handle.readline().rstrip("\r\n").split("\t")]
    found = next((name for name in candidates if name in names), None)
    if found is None:
        raise ConversionError(f"{path}:1: expected a column {' or '.join(candidates)} beside item_id and timestamp "
                              f"(columns: {', '.join(names)})")
    return found


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags."""
    parser = converter_parser("dataset_converters.sessions", __doc__)
    parser.add_argument("--interactions", type=Path, required=True,
                        help="one row per interaction: .csv, .tsv, .parquet or .jsonl (optionally .gz)")
    parser.add_argument("--session_col", required=True, help="column of the session (or user) id")
    parser.add_argument("--item_col", required=True, help="column of the item id")
    parser.add_argument("--time_col", required=True, help="column of the time: epoch seconds or ISO 8601")
    parser.add_argument("--items", type=Path, help="item table with text columns (same formats)")
    parser.add_argument("--item_id_col", default="item_id", help="item table: column of the item id (item_id)")
    parser.add_argument("--text_cols", default="", help="item table: comma-separated text columns, e.g. title,brand")
    parser.add_argument("--output_dir", type=Path, required=True, help="folder to write: <data_path>/<name>")
    parser.add_argument("--name", help="dataset name, the prefix of every file (default: the output folder's name)")
    parser.add_argument("--format", choices=FORMATS, help="format of --interactions (default: from the suffix)")
    parser.add_argument("--items_format", choices=FORMATS, help="format of --items (default: from the suffix)")
    session_protocol.add_protocol_arguments(parser, SessionProtocol())
    parser.add_argument("--time_format", default="auto",
                        help="auto (numbers are epoch seconds, other text ISO 8601), epoch, epoch_ms, iso, or a "
                             "strptime format such as %%Y%%m%%d; times without a zone are UTC (%(default)s)")
    add_time_range_argument(parser)
    parser.add_argument("--keep_duplicates", action="store_true",
                        help="keep exact duplicate interactions (same session, item and time); default: reported "
                             "and dropped")
    parser.add_argument("--encoding", default="utf-8", help="encoding of text files (utf-8)")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad input row")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    columns = Columns(args.session_col, args.item_col, args.time_col, args.item_id_col,
                      tuple(column.strip() for column in args.text_cols.split(",") if column.strip()))

    def convert() -> dict:
        protocol = SessionProtocol(**session_protocol.protocol_arguments(args, SessionProtocol))
        return convert_sessions(args.interactions, args.output_dir, columns, protocol, args.items, args.name,
                                args.format, args.items_format, args.encoding, args.strict, args.overwrite,
                                TimeRule(args.time_format, tuple(args.time_range)), args.keep_duplicates)

    return run_cli_conversion(convert, args.output_dir)


if __name__ == "__main__":
    sys.exit(main())
