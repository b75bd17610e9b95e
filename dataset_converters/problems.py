"""Bad input: the error that stops a conversion, and the log that counts bad records by reason."""
from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Iterator

MAX_EXAMPLES_PER_REASON = 5


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
