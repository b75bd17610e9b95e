r"""Amazon-M2 sessions that ship with their true next item (KDD Cup 2023 task 2 test sessions and ground truth,
optionally task 3 sessions) -> RecBole benchmark files, with the session protocol of the Beauty converter.

The official training file (``sessions_train.csv``) and product table are needed for the paper's ``kdd_m2_<locale>``
datasets (``dataset_converters.kdd_m2``). Without them, the public task 2 test sessions with their ground truth are
a second real session dataset: each row's ``prev_items`` followed by its ``next_item`` is one whole session (a row of
a file without targets, such as task 3's, is its ``prev_items``). Sessions are ordered lists without times, so no
tie rule applies. Then the protocol of ``dataset_converters.protocol``: the most recent ``--max_len`` items kept,
sessions shorter than 2 dropped, sessions split 80/10/10 at random with ``--seed``, every prefix a sample. There is
no product text: only ID models and the non-neural baselines run on it.

    python -m dataset_converters.m2_sessions --sessions sessions_test.parquet --targets DONT_SHARE_gt_test.parquet \
        [--extra_sessions phrase1_sessions_test.parquet ...] --locales ES,FR,IT --output_dir dataset/m2_task2
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from dataset_converters import protocol as session_protocol
from dataset_converters.command_line import converter_parser, run_cli_conversion
from dataset_converters.download import M2_PAGE
from dataset_converters.kdd_m2 import parse_prev_items, read_targets
from dataset_converters.problems import ConversionError, ProblemLog
from dataset_converters.protocol import Event, SessionProtocol
from dataset_converters.readers import iter_csv_records, read_csv_header
from dataset_converters.registry import DatasetSpec, RawFile, register
from dataset_converters.stats import table1_stats, write_stats
from dataset_converters.tokens import is_token
from dataset_converters.writers import atomic_output_dir, check_output_dir

DEFAULT_LOCALES = ("ES", "FR", "IT")
NO_TIMES = "not applicable: each session is an ordered list of items, without times"


def read_session_rows(path: Path, problems: ProblemLog) -> Iterator[tuple[int, object, str | None, str | None]]:
    """``(line or row number, prev_items, locale, next_item)`` of a session file: parquet (``prev_items`` a list)
    or CSV in the official layout (``prev_items`` a ``str(numpy.ndarray)`` field); ``next_item`` is None in a file
    without that column (the test layout)."""
    if not path.is_file():
        raise ConversionError(f"{path}: file not found")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if "prev_items" not in table.column_names:
            raise ConversionError(f"{path}: expected a prev_items column, found {table.column_names}")
        def column(name: str) -> list:
            return table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows

        yield from zip(range(1, table.num_rows + 1), column("prev_items"), column("locale"), column("next_item"))
        return
    names = read_csv_header(path, "utf-8")
    if "prev_items" not in names:
        raise ConversionError(f"{path}:1: expected a header with prev_items, found {names}")
    for line, record in iter_csv_records(path, names, "utf-8", problems, desc=path.name):
        if record is not None:
            values = dict(zip(names, record))
            yield line, values["prev_items"], values.get("locale"), values.get("next_item")


def session_items(prev_items: object) -> list[str] | None:
    """The item ids of one ``prev_items`` value (a list, or the CSV's text form); None when malformed."""
    if isinstance(prev_items, str):
        return parse_prev_items(prev_items)
    if isinstance(prev_items, list) and prev_items and all(isinstance(i, str) and is_token(i) for i in prev_items):
        return prev_items
    return None


def read_events(path: Path, prefix: str, locales: set[str], problems: ProblemLog,
                targets: list[tuple[str, str | None]] | None = None) -> tuple[list[Event], int]:
    """The events of every session of ``locales`` in one file, its next items appended (from the file's own
    ``next_item`` column, or from ``targets``, row-aligned), and how many sessions of other locales were left out.
    Session ids are ``<prefix><row number>`` (the same for the parquet and the CSV form of a file); an item's
    position is its time."""
    events: list[Event] = []
    other_locale, index = 0, -1
    for index, (line, prev_items, locale, next_item) in enumerate(read_session_rows(path, problems)):
        items = session_items(prev_items)
        if items is None:
            problems.report(path, line, "malformed prev_items", "expected a list of item ids")
            continue
        if targets is not None or next_item is not None:
            if targets is not None and index >= len(targets):
                raise ConversionError(f"{path}: more session rows than targets ({len(targets)})")
            target, target_locale = (next_item, locale) if targets is None else targets[index]
            if not isinstance(target, str) or not is_token(target) or target_locale not in (None, locale):
                problems.report(path, line, "bad or misaligned target", f"next_item {target!r}, locale "
                                f"{target_locale!r} for a {locale!r} session")
                continue
            items = items + [target]
        if locale not in locales:
            other_locale += 1
            continue
        events.extend(Event(f"{prefix}{index + 1}", item, float(position), line)
                      for position, item in enumerate(items))
    if targets is not None and index + 1 != len(targets):
        raise ConversionError(f"{path}: {index + 1} session rows but {len(targets)} targets; the files must be "
                              "row-aligned")
    return events, other_locale


def convert_m2_sessions(sessions: Path, output_dir: Path, targets: Path | None = None,
                        extra_sessions: Sequence[Path] = (), locales: Sequence[str] = DEFAULT_LOCALES,
                        protocol: SessionProtocol = SessionProtocol(), name: str | None = None,
                        strict: bool = False, overwrite: bool = False) -> dict:
    """Convert the session files into ``output_dir`` (atomically); return the stats written beside them."""
    name = name or output_dir.name
    check_output_dir(output_dir, overwrite)
    started = time.perf_counter()
    problems = ProblemLog(strict)
    wanted = {locale.upper() for locale in locales}
    with problems.tally_first():
        events, other_locale = read_events(sessions, "s", wanted, problems,
                                           None if targets is None else read_targets(targets))
        for number, extra in enumerate(extra_sessions, start=1):
            more, other = read_events(extra, f"x{number}_", wanted, problems)
            events += more
            other_locale += other
        sessions_kept = session_protocol.build_sessions(events, protocol)
        if not sessions_kept.events:
            raise ConversionError(f"{sessions}: no session of {', '.join(sorted(wanted))} is left")
    with atomic_output_dir(output_dir, overwrite) as staging:
        n_items = len(sessions_kept.items())
        written = session_protocol.split_and_write(staging, name, sessions_kept, protocol)
        stats = {
            "dataset": name,
            "source": {"sessions": str(sessions), "targets": None if targets is None else str(targets),
                       "extra_sessions": [str(path) for path in extra_sessions]},
            "locales": sorted(wanted),
            "protocol": protocol.as_dict(),
            "table1": table1_stats(*written.writers, n_items=n_items,
                                   session_lengths=(len(items) for items in written.item_lists.values())),
            **written.stats,
            "removed": {f"sessions of other locales than {', '.join(sorted(wanted))}": other_locale,
                        **sessions_kept.removed},
            "item_text": "none: no product table is used",
            "problems": problems.as_dict(),
        }
        stats["order"].update(tie_order=NO_TIMES, tie_seed=None)
        stats = write_stats(staging, name, stats, started)
    return stats


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags."""
    parser = converter_parser("dataset_converters.m2_sessions", __doc__)
    parser.add_argument("--sessions", type=Path, required=True,
                        help="sessions with prev_items and locale: .parquet or the official CSV layout")
    parser.add_argument("--targets", type=Path,
                        help="their true next items, row-aligned (DONT_SHARE_gt_test.parquet or a CSV with next_item)")
    parser.add_argument("--extra_sessions", type=Path, nargs="*", default=[],
                        help="more session files without targets (e.g. task 3's), each row one whole session")
    parser.add_argument("--locales", default=",".join(DEFAULT_LOCALES), help="locales to keep (%(default)s)")
    parser.add_argument("--output_dir", type=Path, required=True, help="folder to write: <data_path>/<name>")
    parser.add_argument("--name", help="dataset name, the prefix of every file (default: the output folder's name)")
    session_protocol.add_protocol_arguments(parser, SessionProtocol())
    parser.add_argument("--strict", action="store_true", help="stop at the first bad input row")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    locales = [locale.strip() for locale in args.locales.split(",") if locale.strip()]
    def convert() -> dict:
        protocol = SessionProtocol(**session_protocol.protocol_arguments(args, SessionProtocol))
        return convert_m2_sessions(args.sessions, args.output_dir, args.targets, args.extra_sessions, locales,
                                   protocol, args.name, args.strict, args.overwrite)

    return run_cli_conversion(convert, args.output_dir)


def convert_from_raw(name: str, raw: Mapping[str, Path | None], output_dir: Path) -> dict:
    """The registry's conversion: task 2's public test sessions with their ground truth, default protocol."""
    return convert_m2_sessions(raw["--sessions"], output_dir, raw["--targets"], name=name)


DATASET = register(DatasetSpec(
    name="m2_task2",
    module="dataset_converters.m2_sessions",
    raw_files=(
        RawFile("--sessions", ("sessions_test.parquet", "sessions_test_task2.csv")),
        RawFile("--targets", ("DONT_SHARE_gt_test.parquet", "gt_test_task2.parquet")),
    ),
    convert=convert_from_raw,
    writes_item_file=False,
    download_hint=f"{M2_PAGE} (task 2 test sessions and their ground truth, DONT_SHARE_gt_test.parquet)",
))


if __name__ == "__main__":
    sys.exit(main())
