r"""Amazon Beauty 2014 (McAuley et al.) -> RecBole benchmark files, with the SemSR paper's session protocol.

Protocol (paper section 4, each step a flag): items with frequency >= 5, then users with more than 5 interactions;
each user's chronological history is one session (reviews of the same day ordered by ``--tie_order``: at random
with the seed by default, or in file order); the most recent ``max_len`` items are
kept; sessions shorter than 2 are dropped; users are split 80/10/10 with a seed; every prefix of a session predicts
its next item ("incremental sessions") in every split.

    python -m dataset_converters.beauty --reviews reviews_Beauty_5.json.gz --meta meta_Beauty.json.gz \
        --output_dir dataset/beauty
"""
from __future__ import annotations

import argparse
import ast
import html
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from dataset_converters import protocol as session_protocol
from dataset_converters.command_line import converter_parser, run_cli_conversion
from dataset_converters.download import BEAUTY_PAGE, BEAUTY_URLS
from dataset_converters.event_times import (
    DEFAULT_TIME_RANGE,
    TIME_OUT_OF_RANGE,
    add_time_range_argument,
    time_range_problem,
)
from dataset_converters.problems import ConversionError, ProblemLog
from dataset_converters.protocol import Event, SessionProtocol
from dataset_converters.readers import check_encoding, iter_text_lines
from dataset_converters.registry import DatasetSpec, RawFile, register
from dataset_converters.stats import table1_stats, write_stats
from dataset_converters.tokens import is_token
from dataset_converters.writers import ItemFileWriter, atomic_output_dir, check_output_dir

ITEM_FIELDS = (
    ("item_id", "token"),
    ("title", "token"),
    ("brand", "token"),
    ("categories", "token"),
    ("price", "float"),
    ("sales_type", "token"),
    ("sales_rank", "float"),
    ("description", "token"),
)
_META_ASIN = re.compile(r"""['"]asin['"]\s*:\s*['"]([^'"]+)['"]""")


@dataclass(frozen=True)
class BeautyProtocol(SessionProtocol):
    """The session protocol with the paper's defaults, and the plausible review times."""

    min_item_freq: int = 5
    min_session_events: int = 6
    time_range: tuple[int, int] = DEFAULT_TIME_RANGE

    def as_dict(self) -> dict:
        return {**super().as_dict(), "time_range": list(self.time_range)}


def read_reviews(path: Path, encoding: str, problems: ProblemLog,
                 time_range: tuple[int, int] = DEFAULT_TIME_RANGE) -> list[Event]:
    """Read ``reviews_Beauty*.json`` (JSON lines) or ``ratings_Beauty.csv`` (user,item,rating,time; no header).

    A time outside ``time_range`` (unix seconds) is reported and its line skipped: it would move the item inside
    its session.
    """
    parse = _parse_rating_line if ".csv" in path.suffixes else _parse_review_line
    events = []
    for number, text in iter_text_lines(path, encoding, problems, desc="reviews"):
        if not text.strip():
            continue
        parsed = parse(text)
        if isinstance(parsed, str):
            problems.report(path, number, parsed)
        elif (out_of_range := time_range_problem(parsed[2], time_range)) is not None:
            problems.report(path, number, TIME_OUT_OF_RANGE, out_of_range)
        else:
            events.append(Event(*parsed, line=number))
    return events


def _parse_review_line(text: str) -> tuple[str, str, int] | str:
    """``(user, item, time)`` from one JSON review line, or the reason it is unusable."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        return "malformed JSON line"
    if not isinstance(record, dict):
        return "malformed JSON line"
    return _event_fields(record.get("reviewerID"), record.get("asin"), record.get("unixReviewTime"),
                         ("reviewerID", "asin", "unixReviewTime"))


def _parse_rating_line(text: str) -> tuple[str, str, int] | str:
    """``(user, item, time)`` from one ``ratings_Beauty.csv`` line, or the reason it is unusable."""
    parts = text.split(",")
    if len(parts) != 4:
        return "malformed ratings line"
    return _event_fields(parts[0], parts[1], parts[3], ("user", "item", "timestamp"))


def _event_fields(user: object, item: object, timestamp: object, names: Sequence[str]) -> tuple[str, str, int] | str:
    """Validate the three event fields; return them or the first reason they are unusable."""
    for value, name in zip((user, item, timestamp), names):
        if value is None or value == "":
            return f"missing field {name}"
    if not (isinstance(user, str) and is_token(user) and isinstance(item, str) and is_token(item)):
        return "bad user or item id"
    if isinstance(timestamp, bool) or not isinstance(timestamp, (str, int, float)):
        return f"bad {names[2]}"
    try:
        return user, item, int(float(timestamp))
    except (ValueError, OverflowError):
        return f"bad {names[2]}"


def read_meta(path: Path, encoding: str, problems: ProblemLog, wanted: set[str]) -> dict[str, dict]:
    """Read ``meta_Beauty.json`` (one Python-literal dict per line; strict JSON also accepted) for ``wanted`` items.

    Each kept record gets ``_line`` (its line number). Lines whose asin is visibly not wanted are not parsed.
    """
    records: dict[str, dict] = {}
    for number, text in iter_text_lines(path, encoding, problems, desc="meta"):
        if not text.strip():
            continue
        quick = _META_ASIN.search(text)
        if quick and quick.group(1) not in wanted:
            continue
        record = _parse_literal_dict(text)
        if record is None:
            problems.report(path, number, "malformed meta line", "not a Python-literal or JSON dict")
        elif not isinstance(record.get("asin"), str) or not record["asin"]:
            problems.report(path, number, "missing field asin")
        elif record["asin"] in records:
            problems.report(path, number, "duplicate meta record", f"asin {record['asin']} first on line "
                            f"{records[record['asin']]['_line']}")
        elif record["asin"] in wanted:
            record["_line"] = number
            records[record["asin"]] = record
    return records


def _parse_literal_dict(text: str) -> dict | None:
    """Parse one meta line with ``ast.literal_eval`` (never ``eval``), falling back to JSON."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, dict) else None


def drop_unknown_items(events: list[Event], meta: dict[str, dict], path: Path, problems: ProblemLog) -> list[Event]:
    """Drop events whose item has no metadata record (no text for it); each is reported."""
    kept = []
    for event in events:
        if event.item in meta:
            kept.append(event)
        else:
            problems.report(path, event.line, "unknown item", f"asin {event.item} has no metadata record")
    return kept


def item_text(asin: str, record: dict) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """The ``.item`` row of one product, HTML entities unescaped in every text field, and the fields that had to
    be emptied as ``(reason, detail)`` pairs (a title that is a list, a price that is not a number, ...)."""
    emptied: list[tuple[str, str]] = []
    sales = record.get("salesRank")
    if sales is not None and not isinstance(sales, dict):
        emptied.append(("bad salesRank", f"{type(sales).__name__}, not a mapping; asin {asin}; emptied"))
    sales_type, sales_rank = next(iter(sales.items()), ("", None)) if isinstance(sales, dict) else ("", None)
    row = {"item_id": asin, "sales_type": _text(sales_type, "salesRank category", asin, emptied)}
    row |= {name: _text(record.get(name), name, asin, emptied) for name in ("title", "brand", "description")}
    row["categories"] = " | ".join(" > ".join(html.unescape(c) for c in path) for path in _category_paths(record))
    row["price"] = _number(record.get("price"), "price", asin, emptied)
    row["sales_rank"] = _number(sales_rank, "salesRank", asin, emptied)
    return row, emptied


def _text(value: object, name: str, asin: str, emptied: list[tuple[str, str]]) -> str:
    """``value`` HTML-unescaped; a value that is not text is noted in ``emptied`` and becomes empty."""
    if isinstance(value, str):
        return html.unescape(value)
    if value is not None:
        emptied.append((f"bad {name}", f"{type(value).__name__}, not text; asin {asin}; emptied"))
    return ""


def _number(value: object, name: str, asin: str, emptied: list[tuple[str, str]]) -> object:
    """``value`` if it is a number; anything else present is noted in ``emptied`` and becomes empty."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if value is not None and value != "":
        emptied.append((f"bad {name}", f"{value!r} is not a number; asin {asin}; emptied"))
    return ""


def _category_paths(record: dict) -> list[list[str]]:
    paths = record.get("categories")
    if not isinstance(paths, list):
        return []
    return [[str(c) for c in path] for path in paths if isinstance(path, list)]


def write_items(path: Path, items: Iterable[str], records: dict[str, dict], meta: Path, problems: ProblemLog) -> None:
    """Write the ``.item`` text file for ``items``; an empty title, and a field emptied because it was not text
    or not a number, is reported (the item is kept)."""
    with ItemFileWriter(path, ITEM_FIELDS) as item_file:
        for asin in items:
            row, emptied = item_text(asin, records[asin])
            line = records[asin]["_line"]
            for reason, detail in emptied:
                problems.report(meta, line, reason, detail)
            if not row["title"].strip():
                problems.report(meta, line, "empty title", f"asin {asin}; item kept")
            item_file.write(row)


def convert_beauty(reviews: Path, meta: Path, output_dir: Path, protocol: BeautyProtocol = BeautyProtocol(),
                   name: str = "beauty", encoding: str = "utf-8", strict: bool = False,
                   overwrite: bool = False) -> dict:
    """Convert the raw Beauty files into ``output_dir`` (atomically) and return the stats written beside them."""
    check_encoding(encoding)
    check_output_dir(output_dir, overwrite)
    started = time.perf_counter()
    problems = ProblemLog(strict)
    with problems.tally_first():
        raw_events = read_reviews(reviews, encoding, problems, protocol.time_range)
        if not raw_events:
            raise ConversionError(f"{reviews}: no usable review line")
        events = session_protocol.drop_duplicate_events(raw_events, reviews, problems)
        records = read_meta(meta, encoding, problems, {event.item for event in events})
        if not records:
            raise ConversionError(f"{meta}: no usable metadata record for any reviewed item")
        known = drop_unknown_items(events, records, reviews, problems)
        sessions = session_protocol.build_sessions(known, protocol)
        if not sessions.events:
            raise ConversionError(f"{reviews}: no session is left after the protocol's filters")
    with atomic_output_dir(output_dir, overwrite) as staging:
        used = sessions.items()
        written = session_protocol.split_and_write(staging, name, sessions, protocol)
        write_items(staging / f"{name}.item", used, records, meta, problems)
        stats = {
            "dataset": name,
            "source": {"reviews": str(reviews), "meta": str(meta)},
            "protocol": protocol.as_dict(),
            "table1": table1_stats(*written.writers, n_items=len(used),
                                   session_lengths=(len(items) for items in written.item_lists.values())),
            **written.stats,
            "removed": {
                "duplicate events": len(raw_events) - len(events),
                "events of items without metadata": len(events) - len(known),
                **sessions.removed,
            },
            "input": {"review lines parsed": len(raw_events), "meta records used": len(used)},
            "problems": problems.as_dict(),
        }
        stats = write_stats(staging, name, stats, started)
    return stats


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags (paper defaults)."""
    parser = converter_parser("dataset_converters.beauty", __doc__)
    parser.add_argument("--reviews", type=Path, help="reviews_Beauty*.json(.gz) (JSON lines) or ratings_Beauty.csv")
    parser.add_argument("--meta", type=Path, help="meta_Beauty.json(.gz) (one Python-literal dict per line)")
    parser.add_argument("--output_dir", type=Path, required=True, help="folder to write (RecBole: data_path/<name>)")
    parser.add_argument("--name", default="beauty", help="dataset name, the prefix of every file (default beauty)")
    session_protocol.add_protocol_arguments(parser, BeautyProtocol(), unit="USERS")
    add_time_range_argument(parser)
    parser.add_argument("--encoding", default="utf-8", help="encoding of the raw files (utf-8)")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad input record")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--download", type=Path, metavar="DIR",
                        help="first fetch the official files into DIR (needs network); used when --reviews/--meta "
                             "are not given")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    args = build_parser().parse_args(argv)

    def convert() -> dict:
        reviews, meta = args.reviews, args.meta
        if args.download is not None:
            from dataset_converters.download import download_beauty

            reviews, meta = download_beauty(args.download, reviews, meta)
        if reviews is None or meta is None:
            raise ConversionError("--reviews and --meta are required (or --download DIR)")
        protocol = BeautyProtocol(**session_protocol.protocol_arguments(args, BeautyProtocol))
        return convert_beauty(reviews, meta, args.output_dir, protocol, args.name, args.encoding, args.strict,
                              args.overwrite)

    return run_cli_conversion(convert, args.output_dir)


def convert_from_raw(name: str, raw: Mapping[str, Path | None], output_dir: Path) -> dict:
    """The registry's conversion: the raw files found by `dataset_converters.prepare`, paper defaults."""
    return convert_beauty(raw["--reviews"], raw["--meta"], output_dir, name=name)


DATASET = register(DatasetSpec(
    name="beauty",
    module="dataset_converters.beauty",
    raw_files=(
        RawFile("--reviews", ("reviews_Beauty_5.json.gz", "reviews_Beauty_5.json", "reviews_Beauty_5*.json*",
                              "reviews_Beauty.json.gz", "reviews_Beauty.json", "ratings_Beauty.csv")),
        RawFile("--meta", ("meta_Beauty.json.gz", "meta_Beauty.json", "meta_Beauty*.json*")),
    ),
    convert=convert_from_raw,
    download_hint=(f"{BEAUTY_PAGE}: {BEAUTY_URLS['reviews_Beauty_5.json.gz']}, {BEAUTY_URLS['meta_Beauty.json.gz']} "
                   "(or add --download RAW_DIR to the command below)"),
))


if __name__ == "__main__":
    sys.exit(main())
