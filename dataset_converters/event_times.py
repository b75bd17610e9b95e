"""Event times of the sessions converter: the accepted formats, and why a value is refused.

Every time becomes unix seconds (a float). ISO 8601 times without a zone are read as UTC, in every input format, so
a conversion never depends on the machine's time zone. A value that is not a finite number, or that lies outside
``--time_range`` (default 1990-01-01 .. 2050-01-01), is refused with its reason: milliseconds, compact dates such as
``20231115`` and bare years read as seconds all fall outside the range.
"""
from __future__ import annotations

import argparse
import math
from datetime import date, datetime, timezone

DEFAULT_TIME_RANGE = (631_152_000, 2_524_608_000)  # 1990-01-01 .. 2050-01-01 UTC, in unix seconds
TIME_OUT_OF_RANGE = "timestamp out of range"

TIME_FORMATS = ("auto", "epoch", "epoch_ms", "iso")
"""auto: a number is epoch seconds, other text ISO 8601; epoch / epoch_ms: numbers only; iso: ISO 8601 only. Any
other value containing ``%`` is a `datetime.strptime` format (read as UTC unless it names a zone)."""


def check_time_format(time_format: str) -> str | None:
    """Why ``time_format`` is not usable, or None."""
    if time_format in TIME_FORMATS or "%" in time_format:
        return None
    return f"--time_format must be one of {', '.join(TIME_FORMATS)} or a strptime format with %, got {time_format!r}"


def parse_time(value: object, time_format: str = "auto",
               time_range: tuple[int, int] = DEFAULT_TIME_RANGE) -> float | str:
    """Unix seconds of ``value``, or the reason it is refused (a string)."""
    seconds = _seconds(value, time_format)
    if isinstance(seconds, str):
        return seconds
    if not math.isfinite(seconds):
        return f"{value!r} is not a finite time"
    problem = time_range_problem(seconds, time_range)
    return seconds if problem is None else problem


def _seconds(value: object, time_format: str) -> float | str:
    if isinstance(value, bool) or value is None or value == "":
        return "missing time"
    if isinstance(value, datetime):
        return _utc(value).timestamp()
    if isinstance(value, date):
        return _utc(datetime(value.year, value.month, value.day)).timestamp()
    text = str(value).strip()
    if time_format in ("auto", "epoch", "epoch_ms"):
        number = _number(value, text)
        if number is not None:
            return number / 1000 if time_format == "epoch_ms" else number
        if time_format != "auto":
            return f"expected a number of {'milliseconds' if time_format == 'epoch_ms' else 'seconds'}, got {text!r}"
    try:
        moment = datetime.strptime(text, time_format) if "%" in time_format else datetime.fromisoformat(text)
    except ValueError:
        expected = f"the format {time_format}" if "%" in time_format else "epoch seconds or an ISO 8601 date"
        return f"expected {expected}, got {text!r}"
    return _utc(moment).timestamp()


def _number(value: object, text: str) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(text)
    except ValueError:
        return None


def _utc(moment: datetime) -> datetime:
    """A time without a zone is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


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
