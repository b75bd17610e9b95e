"""Item text: a configurable template that turns an item's fields into the text given to the encoder.

A template is a list of parts such as ``"Brand: {brand}"``. A part is kept only when every placeholder in it has
a value for the item, so a missing brand drops the whole ``"Brand: ..."`` part instead of rendering ``nan`` or an
empty label. ``{description|desc}`` takes the first of several field names that has a value (datasets name the
same thing differently). Kept parts are joined with the separator. Placeholders are plain names: no attribute
access or format specs are evaluated.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from recbole_semsr import defaults
from recbole_semsr.embeddings.errors import ItemFileError
from recbole_semsr.embeddings.item_file import ItemTable

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
FIELD_CAP_KEY = "sem_max_field_chars"


def placeholder_alternatives(placeholder: str) -> tuple[str, ...]:
    """``"description|desc"`` → ``("description", "desc")``; rejects empty names."""
    names = tuple(name.strip() for name in placeholder.split("|"))
    if not all(names):
        raise ValueError(f"empty field name in template placeholder {{{placeholder}}}")
    return names


@dataclass(frozen=True)
class ItemTextTemplate:
    """Ordered template parts plus the separator used to join the parts that could be filled; every field value
    is cut to `max_field_chars` characters first (`None`: no cut).

    Defaults: `sem_text_template`, `sem_text_separator` and `sem_max_field_chars` of `properties/overall.yaml`.
    """

    parts: tuple[str, ...] = field(default_factory=lambda: _as_parts(defaults.default("sem_text_template")))
    separator: str = field(default_factory=lambda: str(defaults.default("sem_text_separator")))
    max_field_chars: int | None = field(default_factory=lambda: defaults.default("sem_max_field_chars"))

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("sem_text_template has no parts")
        cap = self.max_field_chars
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"sem_max_field_chars must be a positive integer or ~ (no cut), got {cap!r}")
        for part in self.parts:
            for placeholder in _PLACEHOLDER.findall(part):
                placeholder_alternatives(placeholder)

    @classmethod
    def from_config(cls, config: Any) -> ItemTextTemplate:
        """Build from ``sem_text_template`` (a string or list of strings) and ``sem_text_separator``."""
        parts = config_value(config, "sem_text_template", defaults.default("sem_text_template"))
        separator = config_value(config, "sem_text_separator", defaults.default("sem_text_separator"))
        cap = config[FIELD_CAP_KEY] if FIELD_CAP_KEY in config else defaults.default(FIELD_CAP_KEY)
        return cls(parts=_as_parts(parts), separator=str(separator), max_field_chars=cap)

    def field_names(self) -> set[str]:
        """Every field name any placeholder may read."""
        return {
            name
            for part in self.parts
            for placeholder in _PLACEHOLDER.findall(part)
            for name in placeholder_alternatives(placeholder)
        }

    def cut_fields(self, values: Mapping[str, str]) -> list[str]:
        """The fields this template reads whose value is longer than `max_field_chars` (they are cut)."""
        if self.max_field_chars is None:
            return []
        return [name for name in sorted(self.field_names()) if len(values.get(name) or "") > self.max_field_chars]

    def render(self, values: Mapping[str, str]) -> str:
        """The item text: filled parts joined by the separator ('' when no part can be filled)."""
        if self.max_field_chars is not None:
            values = {name: value[:self.max_field_chars] for name, value in values.items()}
        filled = (self._fill(part, values) for part in self.parts)
        return self.separator.join(text for text in filled if text)

    def describe(self) -> dict[str, Any]:
        """Plain description used in cache fingerprints."""
        return {"parts": list(self.parts), "separator": self.separator}

    @staticmethod
    def _fill(part: str, values: Mapping[str, str]) -> str | None:
        missing = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal missing
            for name in placeholder_alternatives(match.group(1)):
                if values.get(name):
                    return values[name]
            missing = True
            return ""

        text = _PLACEHOLDER.sub(substitute, part).strip()
        return None if missing or not text else text


def _as_parts(parts: str | Sequence[str]) -> tuple[str, ...]:
    """A template given as one string or a list of strings, as a tuple of parts."""
    return (parts,) if isinstance(parts, str) else tuple(str(part) for part in parts)


def render_item_texts(table: ItemTable, template: ItemTextTemplate) -> list[str]:
    """Texts of all items of `table`, in file order; fails when the template reads no column of the file."""
    used = template.field_names() & set(table.field_types)
    if not used:
        raise ItemFileError(
            f"{table.path}: the text template reads fields {sorted(template.field_names())}, none of which is a "
            f"column of this file (columns: {', '.join(table.field_types)}); set sem_text_template"
        )
    return [template.render(table.values[token]) for token in table.tokens]


def config_value(config: Any, key: str, default: Any = None) -> Any:
    """`config[key]` for a dict or a RecBole Config, `default` when absent or None."""
    value = config[key] if key in config else None
    return default if value is None else value


def count_empty(texts: Sequence[str]) -> int:
    """How many item texts came out empty (all template fields missing)."""
    return sum(1 for text in texts if not text)
