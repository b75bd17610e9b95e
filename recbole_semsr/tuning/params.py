"""Parser of RecBole's hyperparameter file format (``hyper.test``).

One parameter per line, ``<name> <kind> <value>``, as RecBole's ``HyperTuning`` reads it:

    learning_rate choice [0.1,0.01,0.001,0.0001]
    dropout_prob uniform 0.0,0.5
    embedding_size quniform 64,256,32
    weight_decay loguniform -12,-4
    hidden_size qloguniform 3,6,8

``choice`` takes a Python/JSON literal list; the other kinds take comma-separated numbers ``low,high`` or
``low,high,q`` with hyperopt's meaning (``loguniform`` bounds are natural logarithms: ``-12,-4`` samples between
``exp(-12)`` and ``exp(-4)``). Blank lines and lines starting with ``#`` are skipped. Values are parsed with
``ast.literal_eval``, never evaluated as code.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOUND_COUNTS = {"uniform": 2, "quniform": 3, "loguniform": 2, "qloguniform": 3}
KINDS = ("choice", *BOUND_COUNTS)


class ParamsFileError(ValueError):
    """A line of a params file that cannot be read; the message names the file, the line and what was expected."""


@dataclass(frozen=True)
class ParamSpec:
    """One searched hyperparameter.

    ``values`` holds the candidates of a ``choice``, else the bounds ``(low, high)`` or ``(low, high, q)``.
    """

    name: str
    kind: str
    values: tuple[Any, ...]

    @property
    def is_grid(self) -> bool:
        """True for ``choice``: every candidate is tried (exhaustive grid, as in the paper's learning-rate search)."""
        return self.kind == "choice"

    @property
    def yields_integers(self) -> bool:
        """True for a quantised kind whose values are whole numbers (integer step, and integer bounds for
        ``quniform``): such values are passed on as ``int`` (an ``embedding_size`` of ``96.0`` would break a model)."""
        if self.kind == "quniform":
            return all(float(value).is_integer() for value in self.values)
        return self.kind == "qloguniform" and float(self.values[2]).is_integer()


def parse_params_file(path: str | Path) -> list[ParamSpec]:
    """Read a params file; raises ``ParamsFileError`` naming the file and line of the first bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ParamsFileError(f"{path}: cannot read params file ({error.strerror})") from error
    return parse_params_text(text, source=str(path))


def parse_params_text(text: str, source: str = "<params>") -> list[ParamSpec]:
    """Parse the content of a params file; ``source`` names it in error messages."""
    specs: list[ParamSpec] = []
    seen: set[str] = set()
    for line_number, line in enumerate(text.splitlines(), start=1):
        spec = parse_params_line(line, source, line_number)
        if spec is None:
            continue
        if spec.name in seen:
            raise ParamsFileError(f"{source}, line {line_number}: parameter '{spec.name}' is given twice")
        seen.add(spec.name)
        specs.append(spec)
    if not specs:
        raise ParamsFileError(
            f"{source}: no parameters found (expected lines like 'learning_rate choice [0.01,0.001]')"
        )
    return specs


def parse_params_line(line: str, source: str, line_number: int) -> ParamSpec | None:
    """Parse one line; ``None`` for a blank or comment line."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    where = f"{source}, line {line_number}"
    parts = stripped.split(None, 2)
    if len(parts) < 3:
        raise ParamsFileError(f"{where}: expected '<name> <kind> <value>', got {stripped!r}")
    name, kind, value = parts
    if kind == "choice":
        return ParamSpec(name, kind, _parse_choice(value, where))
    if kind in BOUND_COUNTS:
        return ParamSpec(name, kind, _parse_bounds(kind, value, where))
    raise ParamsFileError(f"{where}: unknown kind {kind!r} for '{name}' (expected one of {', '.join(KINDS)})")


def _parse_choice(value: str, where: str) -> tuple[Any, ...]:
    try:
        candidates = ast.literal_eval(value)
    except (ValueError, SyntaxError) as error:
        raise ParamsFileError(f"{where}: choice expects a literal list like [0.01,0.001], got {value!r}") from error
    if not isinstance(candidates, (list, tuple)) or not candidates:
        raise ParamsFileError(f"{where}: choice expects a non-empty list like [0.01,0.001], got {value!r}")
    return tuple(candidates)


def _parse_bounds(kind: str, value: str, where: str) -> tuple[float, ...]:
    expected = BOUND_COUNTS[kind]
    form = "low,high" if expected == 2 else "low,high,q"
    fields = [field.strip() for field in value.split(",")]
    try:
        numbers = tuple(float(field) for field in fields)
    except ValueError as error:
        raise ParamsFileError(f"{where}: {kind} expects numbers '{form}', got {value!r}") from error
    if len(numbers) != expected:
        raise ParamsFileError(f"{where}: {kind} expects {expected} numbers '{form}', got {value!r}")
    if numbers[0] >= numbers[1]:
        raise ParamsFileError(f"{where}: {kind} expects low < high, got {value!r}")
    if expected == 3 and numbers[2] <= 0:
        raise ParamsFileError(f"{where}: {kind} expects a positive step q, got {value!r}")
    return numbers
