"""The one session protocol of every converter: filter, sessionise, order ties, keep the most recent items, split,
write every prefix as a sample.

A converter reads its raw files into :class:`Event` rows (who, what, when, and the file line) and hands them to
:func:`build_sessions` with a :class:`SessionProtocol`; :func:`split_sessions` and :func:`write_splits` do the rest.
Events with equal times are ordered by ``tie_order``:

* ``random`` (default): by a hash of (seed, session, item, time). Deterministic for a seed, and independent of the
  order of the input file, so a file sorted by item id (as Amazon's review files are) leaves no trace in the sessions.
* ``file``: by line in the input file, the usual preprocessing of the literature (a stable sort by time).
"""
from __future__ import annotations

import argparse
import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Sequence

from dataset_converters.problems import ConversionError, ProblemLog
from dataset_converters.registry import SPLITS
from dataset_converters.writers import InterFileWriter

TIE_ORDERS = ("random", "file")
SPLIT_BY = ("session", "time")


class Event(NamedTuple):
    """One interaction: its session (or user), item, time, and its line in the input file."""

    session: str
    item: str
    time: float
    line: int


@dataclass(frozen=True)
class SessionProtocol:
    """Every step of the protocol, each a converter flag; defaults keep every event, split sessions 80/10/10 at
    random and break ties in time at random."""

    min_item_freq: int = 1
    min_session_events: int = 1
    session_gap: float | None = None
    max_len: int = 50
    min_session_len: int = 2
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_by: str = "session"
    seed: int = 2025
    tie_order: str = "random"
    holdout_items: float = 0.0

    def __post_init__(self) -> None:
        if self.tie_order not in TIE_ORDERS:
            raise ConversionError(f"--tie_order must be one of {', '.join(TIE_ORDERS)}, got {self.tie_order!r}")
        if self.split_by not in SPLIT_BY:
            raise ConversionError(f"--split_by must be session or time, got {self.split_by!r}")
        ratios = self.split
        if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1.0) > 1e-6:
            raise ConversionError(f"--split needs three non-negative fractions summing to 1, got {list(ratios)}")
        if not 0.0 <= self.holdout_items < 1.0:
            raise ConversionError(f"--holdout_items must be a fraction in [0, 1), got {self.holdout_items}")
        if self.max_len < 2 or self.min_session_len < 2:
            raise ConversionError("--max_len and --min_session_len must be at least 2 (one prefix item and the "
                                  "target)")

    def as_dict(self) -> dict:
        """JSON-ready form for the stats file."""
        return {**self.__dict__, "split": list(self.split)}


@dataclass
class Sessions:
    """Session id -> its events in order (the most recent ``max_len`` kept), and what each step removed."""

    events: dict[str, list[Event]]
    removed: dict[str, int] = field(default_factory=dict)

    def item_lists(self) -> dict[str, list[str]]:
        return {session: [event.item for event in history] for session, history in self.events.items()}

    def items(self) -> list[str]:
        """Every item of the kept sessions, sorted."""
        return sorted({event.item for history in self.events.values() for event in history})


def tie_key(event: Event, seed: int) -> int:
    """The random tie-breaker of one event: a hash of (seed, session, item, time), so it does not depend on where
    the event stands in the input file."""
    text = f"{seed}\t{event.session}\t{event.item}\t{event.time!r}".encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def order_history(history: list[Event], tie_order: str, seed: int) -> list[Event]:
    """The events of one session in time order; equal times by ``tie_order`` (the file line settles what is left)."""
    if tie_order == "file":
        return sorted(history, key=lambda event: (event.time, event.line))
    return sorted(history, key=lambda event: (event.time, tie_key(event, seed), event.line))


def filter_by_count(events: list[Event], key: str, minimum: int) -> list[Event]:
    """Keep events whose ``key`` ("session" or "item") occurs at least ``minimum`` times (one pass, not k-core)."""
    if minimum <= 1:
        return events
    counts = Counter(getattr(event, key) for event in events)
    return [event for event in events if counts[getattr(event, key)] >= minimum]


def build_sessions(events: list[Event], protocol: SessionProtocol) -> Sessions:
    """Filter items by frequency and sessions by their number of events, order each session's events (ties by
    ``tie_order``), cut at gaps of more than ``session_gap`` seconds, keep the most recent ``max_len`` events,
    drop sessions shorter than ``min_session_len``."""
    removed: dict[str, int] = {}
    by_item = filter_by_count(events, "item", protocol.min_item_freq)
    removed[f"events of items with frequency < {protocol.min_item_freq}"] = len(events) - len(by_item)
    kept = filter_by_count(by_item, "session", protocol.min_session_events)
    removed[f"events of sessions with < {protocol.min_session_events} events"] = len(by_item) - len(kept)
    histories: dict[str, list[Event]] = {}
    for event in kept:
        histories.setdefault(event.session, []).append(event)
    sessions, truncated, short = {}, 0, 0
    for session, history in histories.items():
        ordered = order_history(history, protocol.tie_order, protocol.seed)
        for part_id, part in cut_at_gaps(session, ordered, protocol.session_gap):
            recent = part[-protocol.max_len:]
            truncated += len(part) - len(recent)
            if len(recent) < protocol.min_session_len:
                short += 1
            else:
                sessions[part_id] = recent
    removed[f"events before the most recent {protocol.max_len} of a session"] = truncated
    removed[f"sessions shorter than {protocol.min_session_len}"] = short
    return Sessions(sessions, removed)


def cut_at_gaps(session: str, history: list[Event], gap: float | None) -> Iterator[tuple[str, list[Event]]]:
    """The session itself, or its parts split where more than ``gap`` seconds pass (ids ``<session>_<n>``)."""
    if gap is None:
        yield session, history
        return
    parts, start = [], 0
    for index in range(1, len(history) + 1):
        if index == len(history) or history[index].time - history[index - 1].time > gap:
            parts.append(history[start:index])
            start = index
    for number, part in enumerate(parts):
        yield (session if len(parts) == 1 else f"{session}_{number}"), part


def drop_duplicate_events(events: list[Event], path: Path, problems: ProblemLog) -> list[Event]:
    """Drop repeated (session, item, time) events, keeping the first; each repeat is reported with its line."""
    first_line: dict[tuple[str, str, float], int] = {}
    kept = []
    for event in events:
        key = (event.session, event.item, event.time)
        if key in first_line:
            problems.report(path, event.line, "duplicate event", f"same session, item and time as line {first_line[key]}")
        else:
            first_line[key] = event.line
            kept.append(event)
    return kept


def split_sessions(sessions: Sessions, protocol: SessionProtocol) -> list[list[str]]:
    """Session ids of train/valid/test: the sorted ids shuffled with the seed (``split_by: session``), or ordered by
    the time of their last event, the latest last (``split_by: time``); rounded counts by ``split``. A split with a
    positive share that would be empty is refused: the runner needs every split."""
    if protocol.split_by == "time":
        order = sorted(sessions.events, key=lambda sid: (sessions.events[sid][-1].time, sessions.events[sid][-1].line))
    else:
        order = sorted(sessions.events)
        random.Random(protocol.seed).shuffle(order)
    n_train, n_valid = round(len(order) * protocol.split[0]), round(len(order) * protocol.split[1])
    parts = [order[:n_train], order[n_train:n_train + n_valid], order[n_train + n_valid:]]
    empty = [name for name, part, share in zip(SPLITS, parts, protocol.split) if share > 0 and not part]
    if empty:
        raise ConversionError(f"{len(order)} sessions are too few for --split {' '.join(map(str, protocol.split))}: "
                              f"the {' and '.join(empty)} split would be empty; convert more sessions or change --split")
    return parts


@dataclass
class ItemHoldout:
    """Items held out for a cold-start evaluation: every event of theirs is removed from the train and valid
    sessions, so they first appear in test. ``removed`` counts what that took away."""

    items: list[str]
    removed: dict[str, int] = field(default_factory=dict)


def hold_out_items(sessions: Sessions, splits: list[list[str]], protocol: SessionProtocol) -> ItemHoldout:
    """Draw ``holdout_items`` of the items with the seed and remove their events from the train and valid sessions
    (in place); a session left shorter than ``min_session_len`` is dropped from its split."""
    candidates = sessions.items()
    held = set(random.Random(f"holdout-{protocol.seed}").sample(candidates, round(len(candidates) *
                                                                               protocol.holdout_items)))
    removed_events = dropped = 0
    for part in splits[:2]:
        for session in list(part):
            history = sessions.events[session]
            kept = [event for event in history if event.item not in held]
            removed_events += len(history) - len(kept)
            if len(kept) < protocol.min_session_len:
                part.remove(session)
                del sessions.events[session]
                dropped += 1
            else:
                sessions.events[session] = kept
    return ItemHoldout(sorted(held), {"events of held-out items in train and valid sessions": removed_events,
                                      "train and valid sessions left too short by the hold-out": dropped})


def write_holdout(folder: Path, name: str, holdout: ItemHoldout, item_lists: dict[str, list[str]],
                  test_ids: list[str]) -> dict:
    """Write ``<name>.holdout_items`` (one held-out item id per line) and return its stats entry: how many items,
    and how many test samples have a held-out target (the cold-start samples)."""
    (folder / f"{name}.holdout_items").write_text("".join(f"{item}\n" for item in holdout.items), encoding="utf-8")
    held = set(holdout.items)
    cold = sum(target in held for session in test_ids for _, target in incremental_samples(item_lists[session]))
    return {"items": len(holdout.items), "test_samples_with_held_out_target": cold, "removed": holdout.removed}


def incremental_samples(items: Sequence[str]) -> Iterator[tuple[list[str], str]]:
    """Every prefix predicts its next item: ``[i1] -> i2, [i1, i2] -> i3, ...``."""
    for end in range(1, len(items)):
        yield list(items[:end]), items[end]


def write_splits(folder: Path, name: str, item_lists: dict[str, list[str]],
                 splits: Sequence[list[str]]) -> list[InterFileWriter]:
    """Write ``<name>.{train,valid,test}.inter``: every prefix of every session of the split, sessions by id."""
    writers = [InterFileWriter(folder / f"{name}.{part}.inter") for part in SPLITS]
    for writer, ids in zip(writers, splits):
        with writer:
            for session in sorted(ids):
                for prefix, target in incremental_samples(item_lists[session]):
                    writer.write(session, prefix, target)
    return writers


@dataclass
class WrittenSplits:
    """What :func:`split_and_write` wrote: a writer per split (its row counts), the session ids of each split, the
    item list of every session, and the stats entries of the protocol (``order``, ``sessions``, ``holdout``)."""

    writers: list[InterFileWriter]
    splits: list[list[str]]
    item_lists: dict[str, list[str]]
    stats: dict


def split_and_write(folder: Path, name: str, sessions: Sessions, protocol: SessionProtocol) -> WrittenSplits:
    """Split the sessions, hold out items when ``holdout_items`` is set, and write the three split files."""
    splits = split_sessions(sessions, protocol)
    holdout = hold_out_items(sessions, splits, protocol) if protocol.holdout_items else None
    item_lists = sessions.item_lists()
    writers = write_splits(folder, name, item_lists, splits)
    stats = {"order": order_statistics(sessions, protocol), "sessions": split_counts(splits)}
    if holdout is not None:
        stats["holdout"] = write_holdout(folder, name, holdout, item_lists, splits[2])
    return WrittenSplits(writers, splits, item_lists, stats)


def order_statistics(sessions: Sessions, protocol: SessionProtocol) -> dict:
    """What the stats file records about event order: the tie rule, how many transitions between consecutive
    events of a written session share their time, and how many samples have a target already in their prefix."""
    transitions = tied = repeats = 0
    for history in sessions.events.values():
        transitions += len(history) - 1
        tied += sum(1 for before, after in zip(history, history[1:]) if before.time == after.time)
        seen: set[str] = set()
        for event in history:
            repeats += event.item in seen
            seen.add(event.item)
    return {
        "tie_order": protocol.tie_order,
        "tie_seed": protocol.seed if protocol.tie_order == "random" else None,
        "transitions": transitions,
        "tied_transitions": tied,
        "tied_share": round(tied / transitions, 4) if transitions else 0.0,
        "samples_with_target_in_prefix": repeats,
    }


def split_counts(splits: Iterable[list[str]]) -> dict[str, int]:
    """Sessions per split, for the stats file."""
    return dict(zip(SPLITS, (len(part) for part in splits)))


def add_protocol_arguments(parser: argparse.ArgumentParser, defaults: SessionProtocol, unit: str = "SESSIONS") -> None:
    """The protocol's flags, with ``defaults`` shown; ``unit`` says what a session is (USERS for review data)."""
    parser.add_argument("--min_item_freq", type=int, default=defaults.min_item_freq,
                        help="keep items with at least N events (%(default)s)")
    parser.add_argument("--min_session_events", "--min_user_interactions", type=int,
                        default=defaults.min_session_events,
                        help=f"then keep {unit.lower()} with at least N events (%(default)s)")
    parser.add_argument("--session_gap", type=float, default=defaults.session_gap,
                        help="start a new session after more than N seconds without an event (off)")
    parser.add_argument("--max_len", type=int, default=defaults.max_len,
                        help="keep the most recent N items of a session (%(default)s)")
    parser.add_argument("--min_session_len", type=int, default=defaults.min_session_len,
                        help="drop sessions shorter than N (%(default)s)")
    parser.add_argument("--split", type=float, nargs=3, default=defaults.split, metavar=("TRAIN", "VALID", "TEST"),
                        help=f"fractions of {unit} per split (%(default)s)")
    parser.add_argument("--split_by", choices=SPLIT_BY, default=defaults.split_by,
                        help="session: shuffled with --seed; time: by each session's last event (%(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="seed of the split and of the random tie order (%(default)s)")
    parser.add_argument("--holdout_items", type=float, default=defaults.holdout_items, metavar="FRACTION",
                        help="cold-start evaluation: hold out this fraction of the items (drawn with --seed); their "
                             "events are removed from train and valid, so they first appear in test (%(default)s)")
    parser.add_argument("--tie_order", choices=TIE_ORDERS, default=defaults.tie_order,
                        help="order of events with equal times: random (seeded, independent of the file's order) or "
                             "file (their order in the input, the usual stable sort) (%(default)s)")


def protocol_arguments(args: argparse.Namespace, protocol_class: type[SessionProtocol]) -> dict:
    """The :class:`SessionProtocol` fields from parsed flags (those ``protocol_class`` declares)."""
    names = [name for name in protocol_class.__dataclass_fields__ if hasattr(args, name)]
    return {name: tuple(value) if isinstance(value, list) else value
            for name, value in ((name, getattr(args, name)) for name in names)}
