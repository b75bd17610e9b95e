"""Streaming readers of raw files: plain or gzip, any encoding a byte-order mark names, lines and delimited
records, each damaged record reported to a `ProblemLog` by (file, line, reason)."""
from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import sys
import zlib
from pathlib import Path
from typing import IO, Iterator, Sequence

from tqdm import tqdm

from dataset_converters.problems import ConversionError, ProblemLog

_UNDECODABLE = "\udcff"
_MARK_UNDECODABLE = "dataset_converters.mark_undecodable"
# Longest first: the UTF-32 little-endian mark begins with the UTF-16 one.
_BYTE_ORDER_MARKS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
                     (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


csv.field_size_limit(sys.maxsize)


def check_encoding(encoding: str) -> None:
    """Fail early on an encoding name Python does not know."""
    try:
        codecs.lookup(encoding)
    except LookupError as error:
        raise ConversionError(f"unknown encoding {encoding!r} (--encoding)") from error


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
