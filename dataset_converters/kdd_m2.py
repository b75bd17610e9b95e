r"""Amazon-M2 (KDD Cup 2023, task 1) -> RecBole benchmark files for one locale, streamed.

Each row of the session files is one sample, ``prev_items -> next_item``; a session (prefix plus target) keeps its
most recent ``max_len`` items. The files carry no timestamps, so file order stands for time order. Split rule:

* with ``--test_sessions`` (the official ``sessions_test_task1.csv`` plus ``--test_targets``, the task's ground
  truth, or any file in the ``sessions_train.csv`` layout): train = the locale's rows of ``--sessions`` except the
  last ``--valid_n``; valid = those last ``--valid_n`` rows; test = the locale's rows of the test file. On the
  official UK files this gives the paper's Table 1: 1,182,181 - 10,000 = 1,172,181 train and 115,936 test sessions.
* without it: test = the last ``--test_n`` locale rows of ``--sessions``, valid = the ``--valid_n`` rows before
  them, train = the rest.

The last ``--recent_n`` test samples ("the most recent 10k sessions", the LLM-as-recommender subset) are also
written to ``<name>.recent.inter``.

    python -m dataset_converters.kdd_m2 --sessions sessions_train.csv --products products_train.csv --locale UK \
        --output_dir dataset/kdd_m2_uk
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, NamedTuple, Sequence

from dataset_converters.command_line import converter_parser, run_cli_conversion
from dataset_converters.download import M2_PAGE, M2_TARGETS
from dataset_converters.problems import ConversionError, ProblemLog
from dataset_converters.readers import check_encoding, iter_csv_records, read_csv_header
from dataset_converters.registry import DatasetSpec, RawFile, register
from dataset_converters.stats import table1_stats, write_stats
from dataset_converters.tokens import is_token
from dataset_converters.writers import InterFileWriter, ItemFileWriter, atomic_output_dir, check_output_dir

PRODUCT_HEADER = ("id", "locale", "title", "price", "brand", "color", "size", "model", "material", "author", "desc")
ITEM_FIELDS = (("item_id", "token"), ("title", "token"), ("price", "float")) + tuple(
    (name, "token") for name in PRODUCT_HEADER[4:])
_QUOTED = re.compile(r"'([^']*)'")
_LEFTOVER = re.compile(r"^[\s\[\]]*$")


class Session(NamedTuple):
    """One sample: its id, the file line it starts on, the prefix (oldest first) and the next item."""

    session_id: str
    line: int
    items: list[str]
    target: str


@dataclass(frozen=True)
class M2Options:
    """Split sizes and filters (defaults: the paper's setting)."""

    locale: str = "UK"
    max_len: int = 50
    valid_n: int = 10_000
    test_n: int = 10_000
    recent_n: int = 10_000
    keep_unknown_items: bool = False


@dataclass
class Tally:
    """What the written samples contain, for the stats."""

    items: set[str] = field(default_factory=set)
    session_lengths: list[int] = field(default_factory=list)
    other_locale: int = 0
    unknown_item_sessions: int = 0
    truncated_items: int = 0


def parse_prev_items(text: str) -> list[str] | None:
    """Items of a ``str(numpy.ndarray)`` field such as ``['B09W9FND7K' 'B09JSPLN1M']`` (may hold line breaks).

    Returns ``None`` unless the field is brackets, whitespace and at least one quoted id without whitespace.
    """
    items = _QUOTED.findall(text)
    if not items or not _LEFTOVER.match(_QUOTED.sub(" ", text)) or not all(is_token(item) for item in items):
        return None
    return items


def read_product_ids(path: Path, locale: str, encoding: str, problems: ProblemLog) -> set[str]:
    """First pass over ``products_train.csv``: the ids listed for ``locale`` (repeats reported)."""
    ids: set[str] = set()
    for line, record in iter_csv_records(path, PRODUCT_HEADER, encoding, problems, desc="products (ids)"):
        if record is None or record[1] != locale:
            continue
        if not is_token(record[0]):
            problems.report(path, line, "bad item id", repr(record[0]))
        elif record[0] in ids:
            problems.report(path, line, "duplicate product", f"{record[0]} listed twice for {locale}")
        else:
            ids.add(record[0])
    return ids


def read_targets(path: Path) -> list[tuple[str, str | None]]:
    """Ground-truth ``(next_item, locale)`` rows, row-aligned with a test-layout session file (parquet or CSV)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if "next_item" not in table.column_names:
            raise ConversionError(f"{path}: expected a next_item column, found {table.column_names}")
        items = table.column("next_item").to_pylist()
        locales = table.column("locale").to_pylist() if "locale" in table.column_names else [None] * len(items)
        return list(zip(items, locales))
    problems = ProblemLog(strict=True)
    names = read_csv_header(path, "utf-8")
    if "next_item" not in names:
        raise ConversionError(f"{path}:1: expected a next_item column, found {names}")
    rows = []
    for _, record in iter_csv_records(path, names, "utf-8", problems, desc="targets"):
        values = dict(zip(names, record))
        rows.append((values["next_item"], values.get("locale")))
    return rows


def iter_sessions(path: Path, options: M2Options, encoding: str, problems: ProblemLog, tally: Tally, id_prefix: str,
                  targets: Sequence[tuple[str, str | None]] | None = None) -> Iterator[Session]:
    """Stream the locale's valid samples of a session CSV (train layout, or test layout with ``targets``)."""
    names = read_csv_header(path, encoding)
    if targets is None and "next_item" not in names:
        raise ConversionError(f"{path}:1: no next_item column; pass --test_targets for a test-layout file")
    header = ("prev_items", "next_item", "locale") if targets is None else ("prev_items", "locale")
    records = iter_csv_records(path, header, encoding, problems, desc=path.name)
    for index, (line, record) in enumerate(records):
        target_row = _aligned_target(targets, index, path, line, record)
        if record is None:
            continue
        values = dict(zip(names, record))
        if values["locale"] != options.locale:
            tally.other_locale += 1
            continue
        target = values["next_item"] if target_row is None else target_row[0]
        session = _parse_session(f"{id_prefix}{line}", line, values["prev_items"], target, path, problems)
        if session is not None:
            yield session


def _aligned_target(targets: Sequence[tuple[str, str | None]] | None, index: int, path: Path, line: int,
                    record: list[str] | None) -> tuple[str, str | None] | None:
    """The ground-truth row of record ``index``; misaligned files are an error, not a skip."""
    if targets is None:
        return None
    if index >= len(targets):
        raise ConversionError(f"{path}:{line}: more session rows than --test_targets rows ({len(targets)})")
    target_row = targets[index]
    if record is not None and target_row[1] is not None and target_row[1] != record[-1]:
        raise ConversionError(f"{path}:{line}: locale {record[-1]} but target row {index + 1} says {target_row[1]}; "
                              "the files are not row-aligned")
    return target_row


def _parse_session(session_id: str, line: int, prev_items: str, target: object, path: Path,
                   problems: ProblemLog) -> Session | None:
    """A :class:`Session` from raw fields, or ``None`` after reporting why it is unusable."""
    items = parse_prev_items(prev_items)
    if items is None:
        problems.report(path, line, "malformed prev_items", prev_items[:60])
    elif not isinstance(target, str) or not target:
        problems.report(path, line, "missing field next_item")
    elif not is_token(target):
        problems.report(path, line, "bad item id", repr(target))
    else:
        return Session(session_id, line, items, target)
    return None


def known_sessions(sessions: Iterable[Session], product_ids: set[str], options: M2Options, path: Path,
                   problems: ProblemLog, tally: Tally) -> Iterator[Session]:
    """Report sessions that reference items missing from the products file; drop them unless kept by option."""
    for session in sessions:
        unknown = [item for item in (*session.items, session.target) if item not in product_ids]
        if unknown:
            problems.report(path, session.line, "unknown item", f"{unknown[0]} is not in the {options.locale} "
                            f"products" + ("; session kept" if options.keep_unknown_items else ""))
            if not options.keep_unknown_items:
                tally.unknown_item_sessions += 1
                continue
        yield session


def write_sample(writer: InterFileWriter, session: Session, max_len: int, tally: Tally) -> None:
    """Write one sample keeping the session's most recent ``max_len`` items (prefix: ``max_len - 1``)."""
    prefix = session.items[-(max_len - 1):]
    tally.truncated_items += len(session.items) - len(prefix)
    tally.items.update(prefix)
    tally.items.add(session.target)
    tally.session_lengths.append(len(prefix) + 1)
    writer.write(session.session_id, prefix, session.target)


def write_all_but_last(sessions: Iterable[Session], writer: InterFileWriter, keep_last: int, max_len: int,
                       tally: Tally) -> list[Session]:
    """Stream ``sessions`` into ``writer`` except the last ``keep_last``, which are returned (file order)."""
    held: deque[Session] = deque()
    for session in sessions:
        held.append(session)
        if len(held) > keep_last:
            write_sample(writer, held.popleft(), max_len, tally)
    return list(held)


def write_item_file(products: Path, out: Path, options: M2Options, encoding: str, problems: ProblemLog,
                    tally: Tally) -> int:
    """Second pass over the products: one ``.item`` row per used item (products-file order); returns #with text."""
    written: set[str] = set()
    with ItemFileWriter(out, ITEM_FIELDS) as item_file:
        first_pass_reported = ProblemLog()  # record-level problems were reported by read_product_ids already
        for line, record in iter_csv_records(products, PRODUCT_HEADER, encoding, first_pass_reported,
                                             desc="products (text)"):
            if record is None or record[1] != options.locale or record[0] not in tally.items or record[0] in written:
                continue
            values = dict(zip(PRODUCT_HEADER, record), item_id=record[0], price=_price(record[3], products, line,
                                                                                        problems))
            if not values["title"].strip():
                problems.report(products, line, "empty title", f"{record[0]}; item kept")
            item_file.write(values)
            written.add(record[0])
        for item in sorted(tally.items - written):
            item_file.write({"item_id": item})
    return len(written)


def _price(text: str, path: Path, line: int, problems: ProblemLog) -> str:
    """The price if it is a number, else empty (reported)."""
    try:
        float(text)
    except ValueError:
        if text.strip():
            problems.report(path, line, "bad price", repr(text))
        return ""
    return text


def write_splits(folder: Path, name: str, train_rows: Iterable[Session], test_rows: Iterable[Session] | None,
                 options: M2Options, tally: Tally, source: Path) -> tuple[InterFileWriter, ...]:
    """Write train/valid/test and the recent subset by the split rule (module docstring); return their writers."""
    holdout = options.valid_n + (0 if test_rows is not None else options.test_n)
    writers = [InterFileWriter(folder / f"{name}.{part}.inter") for part in ("train", "valid", "test", "recent")]
    train, valid, test, recent_file = writers
    with train, valid, test, recent_file:
        held = write_all_but_last(train_rows, train, holdout, options.max_len, tally)
        if len(held) < holdout or (holdout and train.rows == 0):
            raise ConversionError(f"{source}: only {train.rows + len(held)} usable {options.locale} sessions, "
                                  f"too few for --valid_n {options.valid_n} and --test_n {options.test_n}")
        for session in held[:options.valid_n]:
            write_sample(valid, session, options.max_len, tally)
        recent = write_all_but_last(held[options.valid_n:] if test_rows is None else test_rows, test,
                                    options.recent_n, options.max_len, tally)
        for session in recent:
            write_sample(test, session, options.max_len, tally)
            write_sample(recent_file, session, options.max_len, Tally())
    return train, valid, test, recent_file


def convert_kdd_m2(sessions: Path, products: Path, output_dir: Path, options: M2Options = M2Options(),
                   name: str | None = None, test_sessions: Path | None = None, test_targets: Path | None = None,
                   encoding: str = "utf-8", strict: bool = False, overwrite: bool = False) -> dict:
    """Convert the raw Amazon-M2 files for one locale into ``output_dir`` (atomically); return the stats."""
    name = name or f"kdd_m2_{options.locale.lower()}"
    if options.max_len < 2:
        raise ConversionError("--max_len must be at least 2 (one prefix item and the target)")
    check_encoding(encoding)
    check_output_dir(output_dir, overwrite)
    started = time.perf_counter()
    problems, tally = ProblemLog(strict), Tally()
    product_ids = read_product_ids(products, options.locale, encoding, problems)
    targets = read_targets(test_targets) if test_targets is not None else None
    with atomic_output_dir(output_dir, overwrite) as staging:
        train_rows = known_sessions(iter_sessions(sessions, options, encoding, problems, tally, "s"), product_ids,
                                    options, sessions, problems, tally)
        test_rows = None if test_sessions is None else known_sessions(
            iter_sessions(test_sessions, options, encoding, problems, tally, "t", targets), product_ids, options,
            test_sessions, problems, tally)
        with problems.tally_first():
            train, valid, test, recent_file = write_splits(staging, name, train_rows, test_rows, options, tally,
                                                           sessions)
        with_text = write_item_file(products, staging / f"{name}.item", options, encoding, problems, tally)
        stats = {
            "dataset": name,
            "source": {"sessions": str(sessions), "products": str(products), "test_sessions": _str(test_sessions),
                       "test_targets": _str(test_targets)},
            "protocol": asdict(options),
            "split_rule": "official test file" if test_sessions else "last rows of the sessions file",
            "order": {"tie_order": "not applicable: each session is an ordered list of items, without times"},
            "table1": table1_stats(train, valid, test, n_items=len(tally.items),
                                   session_lengths=tally.session_lengths),
            "#items_with_text": with_text,
            "#recent": recent_file.rows,
            "removed": {
                f"sessions of other locales than {options.locale}": tally.other_locale,
                "sessions referencing unknown items": tally.unknown_item_sessions,
                f"items before the most recent {options.max_len} of a session": tally.truncated_items,
            },
            "problems": problems.as_dict(),
        }
        stats = write_stats(staging, name, stats, started)
    return stats


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def build_parser() -> argparse.ArgumentParser:
    """Command-line flags (paper defaults)."""
    parser = converter_parser("dataset_converters.kdd_m2", __doc__)
    parser.add_argument("--sessions", type=Path, help="sessions_train.csv (prev_items,next_item,locale)")
    parser.add_argument("--products", type=Path,
                        help="products_train.csv (" + ",".join(PRODUCT_HEADER) + ")")
    parser.add_argument("--locale", default="UK", help="locale to keep (UK)")
    parser.add_argument("--output_dir", type=Path, required=True, help="folder to write (RecBole: data_path/<name>)")
    parser.add_argument("--name", help="dataset name, the prefix of every file (default kdd_m2_<locale>)")
    parser.add_argument("--test_sessions", type=Path,
                        help="official sessions_test_task1.csv (with --test_targets) or a CSV with next_item")
    parser.add_argument("--test_targets", type=Path,
                        help="ground truth row-aligned with --test_sessions: parquet or CSV with next_item[,locale]")
    parser.add_argument("--max_len", type=int, default=50, help="keep a session's most recent N items (50)")
    parser.add_argument("--valid_n", type=int, default=10_000, help="last N train-file sessions -> valid (10000)")
    parser.add_argument("--test_n", type=int, default=10_000,
                        help="without --test_sessions: last N train-file sessions -> test (10000)")
    parser.add_argument("--recent_n", type=int, default=10_000,
                        help="last N test samples -> <name>.recent.inter, the LLM subset (10000)")
    parser.add_argument("--keep_unknown_items", action="store_true",
                        help="keep sessions with items missing from the products file (text left empty)")
    parser.add_argument("--encoding", default="utf-8", help="encoding of the raw files (utf-8)")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad input record")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    parser.add_argument("--download", type=Path, metavar="DIR",
                        help="fetch the official files into DIR (Amazon-M2 needs an AIcrowd login: prints how)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.test_targets is not None and args.test_sessions is None:
        print("error: --test_targets needs --test_sessions", file=sys.stderr)
        return 2
    options = M2Options(args.locale, args.max_len, args.valid_n, args.test_n, args.recent_n, args.keep_unknown_items)

    def convert() -> dict:
        if args.download is not None:
            from dataset_converters.download import download_kdd_m2

            download_kdd_m2(args.download)
        if args.sessions is None or args.products is None:
            raise ConversionError("--sessions and --products are required")
        return convert_kdd_m2(args.sessions, args.products, args.output_dir, options, args.name, args.test_sessions,
                              args.test_targets, args.encoding, args.strict, args.overwrite)

    return run_cli_conversion(convert, args.output_dir)


def convert_from_raw(name: str, raw: Mapping[str, Path | None], output_dir: Path) -> dict:
    """The registry's conversion: the locale from the name (`kdd_m2_uk` -> UK), the official test split when both
    of its files were found."""
    test_sessions, test_targets = raw.get("--test_sessions"), raw.get("--test_targets")
    if test_sessions is None or test_targets is None:
        test_sessions = test_targets = None
    return convert_kdd_m2(raw["--sessions"], raw["--products"], output_dir, M2Options(locale=_locale(name)),
                          name=name, test_sessions=test_sessions, test_targets=test_targets)


def _locale(name: str) -> str:
    return DATASET_NAME.fullmatch(name).group(1).upper()


DATASET_NAME = re.compile(r"kdd_m2_([a-z]{2})")
DATASET = register(DatasetSpec(
    name="kdd_m2_<locale>",
    pattern=DATASET_NAME,
    module="dataset_converters.kdd_m2",
    raw_files=(
        RawFile("--sessions", ("sessions_train.csv", "sessions_train.csv.gz")),
        RawFile("--products", ("products_train.csv", "products_train.csv.gz")),
        RawFile("--test_sessions", ("sessions_test_task1.csv", "sessions_test_task1.csv.gz"), optional=True),
        RawFile("--test_targets", ("DONT_SHARE_gt_test.parquet", "gt_test_task1.parquet"), optional=True),
    ),
    convert=convert_from_raw,
    download_hint=(f"{M2_PAGE} (AIcrowd login; sessions_train.csv, products_train.csv, and for the paper's test split "
                   f"sessions_test_task1.csv with its ground truth from {M2_TARGETS})"),
    command_args=lambda name: ["--locale", _locale(name)],
))


if __name__ == "__main__":
    sys.exit(main())
