"""Shared machinery of the converters: problem reporting, streaming readers, atomic output, atomic-file writers, stats.

Every converter reads raw public files, reports each bad record as (file, line, reason), writes RecBole atomic files
into a temporary folder and only then moves it into place, and writes `<name>.stats.json` in the layout of the
paper's Table 1.
"""
from __future__ import annotations

import argparse
import codecs
import contextlib
import csv
import gzip
import io
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import zlib
from collections import Counter
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, Sequence

from tqdm import tqdm

INTER_HEADER = ("session_id:token", "item_id_list:token_seq", "item_id:token")
_WHITESPACE = re.compile(r"\s+")
_TOKEN = re.compile(r"^[^\s'\"]+$")
MAX_EXAMPLES_PER_REASON = 5
DEFAULT_TIME_RANGE = (631_152_000, 2_524_608_000)  # 1990-01-01 .. 2050-01-01 UTC, in unix seconds
TIME_OUT_OF_RANGE = "timestamp out of range"
_UNDECODABLE = "\udcff"
_MARK_UNDECODABLE = "dataset_converters.mark_undecodable"
# Longest first: the UTF-32 little-endian mark begins with the UTF-16 one.
_BYTE_ORDER_MARKS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
                     (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))

csv.field_size_limit(sys.maxsize)


class ConversionError(Exception):
    """Raised for input that cannot be converted (or any bad record under --strict)."""


class ProblemLog:
    """Counts bad input records by reason and keeps the first few (file, line) examples of each.

    With ``strict=True`` the first problem raises :class:`ConversionError` instead.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def report(self, path: Path | str, line: int, reason: str, detail: str = "") -> None:
        """Record one bad record at ``path:line``; raise under strict mode."""
        where = f"{path}:{line}: {reason}" + (f" ({detail})" if detail else "")
        if self.strict:
            raise ConversionError(f"{where} [--strict]")
        self.counts[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < MAX_EXAMPLES_PER_REASON:
            self.examples[reason].append(where)

    def __len__(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """Human-readable report: one line per reason with its count, then its first examples."""
        if not self.counts:
            return "no bad input records"
        lines = [f"{sum(self.counts.values())} bad input records reported:"]
        for reason, count in self.counts.most_common():
            lines.append(f"  {count:>9,}  {reason}")
            lines.extend(f"             e.g. {example}" for example in self.examples[reason])
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """JSON-ready form: ``{"counts": {reason: n}, "examples": {reason: [...]}}``."""
        return {"counts": dict(self.counts), "examples": self.examples}

    @contextlib.contextmanager
    def tally_first(self) -> Iterator[None]:
        """Put this log's summary before the message of a :class:`ConversionError` raised inside, so that a
        conversion that ends with nothing left shows the bad input that caused it."""
        try:
            yield
        except ConversionError as error:
            if not self.counts:
                raise
            raise ConversionError(f"{self.summary()}\n{error}") from error


def open_binary(path: Path) -> IO[bytes]:
    """Open a plain or gzip-compressed file for binary reading (``.gz`` by name)."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


@contextlib.contextmanager
def readable(path: Path) -> Iterator[None]:
    """Turn a damaged compressed file's low-level error into a :class:`ConversionError` naming the file."""
    try:
        yield
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise ConversionError(f"{path}: not a readable gzip file ({error}); the file may be truncated or not "
                              "gzip-compressed: download it again or remove the .gz suffix") from error


def progress(path: Path, desc: str) -> tqdm:
    """A byte-counting tqdm bar for reading ``path`` (sized by the file on disk)."""
    return tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=desc, leave=False,
                disable=None, mininterval=1.0)


def detect_encoding(path: Path, encoding: str) -> str:
    """The encoding to read ``path`` with: the one its byte-order mark names, else ``encoding``.

    An empty file is a :class:`ConversionError` naming it.
    """
    with readable(path), open_binary(path) as handle:
        start = handle.read(4)
    if not start:
        raise ConversionError(f"{path}: the file is empty")
    for mark, marked_encoding in _BYTE_ORDER_MARKS:
        if start.startswith(mark):
            return marked_encoding
    return encoding


def is_wide_encoding(encoding: str) -> bool:
    """True for UTF-16/UTF-32, whose lines cannot be split before decoding."""
    return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def iter_raw_lines(path: Path, desc: str = "") -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_bytes)`` per physical line (1-based) with a tqdm bar over the bytes on disk."""
    with readable(path), open_binary(path) as handle, progress(path, desc or path.name) as bar:
        compressed = getattr(handle, "fileobj", None)
        for number, raw in enumerate(handle, start=1):
            if number % 65536 == 0:
                bar.update((compressed.tell() if compressed is not None else handle.tell()) - bar.n)
            yield number, raw


def iter_decoded_lines(path: Path, encoding: str, desc: str = "") -> Iterator[tuple[int, str, bool]]:
    """Yield ``(line_number, text, decoded)`` per physical line, newline kept; ``decoded`` is False when the line
    is not valid ``encoding`` (its text then holds placeholders for the bad bytes).

    A byte-order mark overrides ``encoding`` and is removed. UTF-16/UTF-32 files are decoded as a stream (their
    line breaks are not single bytes) before they are split into lines.
    """
    encoding = detect_encoding(path, encoding)
    if is_wide_encoding(encoding):
        yield from _iter_wide_lines(path, encoding)
        return
    for number, raw in iter_raw_lines(path, desc):
        try:
            yield number, raw.decode(encoding), True
        except UnicodeDecodeError:
            yield number, raw.decode(encoding, errors="replace"), False


def _iter_wide_lines(path: Path, encoding: str) -> Iterator[tuple[int, str, bool]]:
    with readable(path), io.TextIOWrapper(open_binary(path), encoding=encoding, errors=_MARK_UNDECODABLE,
                                          newline="") as handle:
        for number, text in enumerate(handle, start=1):
            yield number, text, _UNDECODABLE not in text


def _mark_undecodable(error: UnicodeDecodeError) -> tuple[str, int]:
    """Codec error handler: replace undecodable bytes with a lone surrogate, which valid UTF-16/32 never yields."""
    return _UNDECODABLE, error.end


codecs.register_error(_MARK_UNDECODABLE, _mark_undecodable)


def iter_text_lines(path: Path, encoding: str, problems: ProblemLog, desc: str = "") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each physical line (1-based, newline stripped).

    A line that does not decode with ``encoding`` is reported and skipped.
    """
    for number, text, decoded in iter_decoded_lines(path, encoding, desc):
        if not decoded:
            problems.report(path, number, "undecodable line", f"not valid {encoding}")
            continue
        yield number, text.rstrip("\r\n")


def read_csv_header(path: Path, encoding: str) -> list[str]:
    """The column names on the first line of a CSV file (plain or gzip)."""
    _, first, _ = next(iter_decoded_lines(path, encoding))
    return [name.strip() for name in next(csv.reader([first]), [])]


def read_delimited_records(path: Path, encoding: str, problems: ProblemLog, desc: str = "",
                           delimiter: str = ",") -> tuple[list[str] | None, Iterator[tuple[int, list[str] | None]]]:
    """The header of a delimited file (None when the file is empty) and an iterator of ``(first_line_number,
    fields)`` over its records.

    Quoted fields may span physical lines. A record with the wrong field count or with undecodable bytes is reported
    and yielded as ``None`` (so callers can keep row alignment with another file); blank lines are skipped.
    """
    undecodable: set[int] = set()

    def decoded_lines() -> Iterator[str]:
        for number, text, decoded in iter_decoded_lines(path, encoding, desc):
            if not decoded:
                undecodable.add(number)
            yield text

    reader = csv.reader(decoded_lines(), delimiter=delimiter)
    found = next(reader, None)

    def records() -> Iterator[tuple[int, list[str] | None]]:
        width = len(found)
        last_line = reader.line_num
        for record in reader:
            first_line, last_line = last_line + 1, reader.line_num
            if not record:
                continue
            if undecodable.intersection(range(first_line, last_line + 1)):
                problems.report(path, first_line, "undecodable line", f"not valid {encoding}")
                yield first_line, None
            elif len(record) != width:
                problems.report(path, first_line, "wrong number of fields", f"expected {width}, got {len(record)}")
                yield first_line, None
            else:
                yield first_line, record

    return found, (records() if found is not None else iter(()))


def iter_csv_records(path: Path, header: Sequence[str], encoding: str, problems: ProblemLog,
                     desc: str = "") -> Iterator[tuple[int, list[str] | None]]:
    """Stream a comma-separated file whose header starts with ``header`` (else :class:`ConversionError`), yielding
    ``(first_line_number, fields)`` per record as :func:`read_delimited_records` does."""
    found, records = read_delimited_records(path, encoding, problems, desc)
    if found is None or found[: len(header)] != list(header):
        raise ConversionError(f"{path}:1: expected a header starting with {','.join(header)}, found {found!r}")
    yield from records


def time_range_problem(seconds: int, time_range: tuple[int, int]) -> str | None:
    """Why ``seconds`` is not a plausible unix time, or None when it lies inside ``time_range``."""
    low, high = time_range
    if low <= seconds <= high:
        return None
    return (f"{seconds} is outside [{low}, {high}] (unix seconds{'; milliseconds?' if seconds > high else ''}); "
            "widen with --time_range MIN MAX")


def add_time_range_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--time_range MIN MAX`` flag of the converters that order by time."""
    parser.add_argument("--time_range", type=int, nargs=2, default=DEFAULT_TIME_RANGE, metavar=("MIN", "MAX"),
                        help="plausible event times in unix seconds; others are reported and skipped "
                             f"(default {DEFAULT_TIME_RANGE[0]} {DEFAULT_TIME_RANGE[1]}: 1990-01-01 to 2050-01-01)")


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


class _RowFileWriter:
    """An output file opened for writing, counting its data rows; usable as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._handle = open(path, "w", encoding="utf-8", newline="")

    def close(self) -> None:
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class InterFileWriter(_RowFileWriter):
    """Writes a benchmark ``.inter`` file: one sample per row, ``session_id``, the prefix (most recent last), target."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.prefix_items = 0
        self._handle.write("\t".join(INTER_HEADER) + "\n")

    def write(self, session_id: str, prefix: Sequence[str], target: str) -> None:
        """Append one sample; ``prefix`` must be non-empty."""
        self._handle.write(f"{session_id}\t{' '.join(prefix)}\t{target}\n")
        self.rows += 1
        self.prefix_items += len(prefix)


class ItemFileWriter(_RowFileWriter):
    """Writes a tab-separated ``.item`` file; text is made one-line and CSV-quoted only where it holds a ``"``.

    Readers should use the csv module or pandas (tab delimiter, default quoting) as RecBole itself does.
    """

    def __init__(self, path: Path, fields: Sequence[tuple[str, str]]) -> None:
        super().__init__(path)
        self.names = [name for name, _ in fields]
        self._writer = csv.writer(self._handle, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        self._writer.writerow([f"{name}:{kind}" for name, kind in fields])

    def write(self, values: dict[str, object]) -> None:
        """Append one item; missing fields are written empty."""
        self._writer.writerow([clean_text(values.get(name)) for name in self.names])
        self.rows += 1


def check_encoding(encoding: str) -> None:
    """Fail early on an encoding name Python does not know."""
    try:
        codecs.lookup(encoding)
    except LookupError as error:
        raise ConversionError(f"unknown encoding {encoding!r} (--encoding)") from error


def check_output_dir(output_dir: Path, overwrite: bool) -> None:
    """Fail early when ``output_dir`` exists and ``overwrite`` is off."""
    if output_dir.exists() and not overwrite:
        raise ConversionError(f"output folder {output_dir} already exists; pass --overwrite to replace it")


@contextlib.contextmanager
def atomic_output_dir(output_dir: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder beside ``output_dir``; on success it replaces ``output_dir`` by renames.

    On any exception the temporary folder is removed and ``output_dir`` is left as it was.
    """
    check_output_dir(output_dir, overwrite)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.partial-", dir=output_dir.parent))
    staging.chmod(0o755)
    try:
        yield staging
        check_output_dir(output_dir, overwrite)
        if output_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.old-", dir=output_dir.parent))
            os.replace(output_dir, retired / output_dir.name)
            os.replace(staging, output_dir)
            shutil.rmtree(retired)
        else:
            os.replace(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def table1_stats(train: InterFileWriter, valid: InterFileWriter, test: InterFileWriter, n_items: int,
                 session_lengths: Iterable[int]) -> dict:
    """Table 1 of the paper: sample counts per split, #items and the mean length of the (un-expanded) sessions."""
    lengths = list(session_lengths)
    samples = train.rows + valid.rows + test.rows
    return {
        "#train": train.rows,
        "#valid": valid.rows,
        "#test": test.rows,
        "#items": n_items,
        "avg_session_length": round(sum(lengths) / len(lengths), 4) if lengths else 0.0,
        "#sessions": len(lengths),
        "avg_prefix_length": round((train.prefix_items + valid.prefix_items + test.prefix_items) / samples, 4)
        if samples else 0.0,
    }


def write_json(path: Path | str, data: object, sort_keys: bool = False, default: Callable | None = None) -> Path:
    """The one JSON writer of the package: indented UTF-8, parent folders created, written atomically (a temporary
    file beside the target, then a rename), so an interrupted run never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=sort_keys, ensure_ascii=False, default=default) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def current_umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_stats(path: Path, stats: dict) -> None:
    """Write the stats JSON (sorted keys, indented)."""
    write_json(path, stats, sort_keys=True)


def format_stats(stats: dict) -> str:
    """The Table 1 row and the per-filter removal counts, for printing."""
    table = stats["table1"]
    lines = [
        f"dataset {stats['dataset']}: #train {table['#train']:,}  #valid {table['#valid']:,}  #test {table['#test']:,}"
        f"  #items {table['#items']:,}  avg session length {table['avg_session_length']:.2f}"
        f"  (#sessions {table['#sessions']:,}, avg prefix length {table['avg_prefix_length']:.2f})",
        "removed by each step:",
    ]
    lines.extend(f"  {count:>9,}  {step}" for step, count in stats["removed"].items())
    if "tied_share" in stats.get("order", {}):
        order = stats["order"]
        rule = "random" if order["tie_order"] == "random" else order["tie_order"]
        seed = f" (seed {order['tie_seed']})" if order.get("tie_seed") is not None else ""
        lines.append(f"event order: equal times {rule}{seed}; {order['tied_transitions']:,} of "
                     f"{order['transitions']:,} transitions tied ({100 * order['tied_share']:.1f} %)")
    if stats.get("item_table_note"):
        lines.append(stats["item_table_note"])
    problems = ProblemLog()
    problems.counts.update(stats["problems"]["counts"])
    problems.examples = stats["problems"]["examples"]
    lines.append(problems.summary())
    return "\n".join(lines)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt as Ctrl-C does, so that the atomic output's clean-up runs
    (no hidden ``.NAME.partial-*`` folder is left behind)."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_cli_conversion(convert: Callable[[], dict], output_dir: Path) -> int:
    """Run a converter for a CLI: print its stats, or the error in one line; returns the exit status (130 when
    interrupted by Ctrl-C or SIGTERM, nothing written)."""
    try:
        with terminate_as_interrupt():
            stats = convert()
    except (ConversionError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: nothing was written to {output_dir}", file=sys.stderr)
        return 130
    print(format_stats(stats))
    print(f"wrote {output_dir} in {stats['seconds']:.1f} s")
    return 0
