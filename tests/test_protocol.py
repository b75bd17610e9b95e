"""The one session protocol (dataset_converters/protocol.py): tie order, split, order statistics, and the Beauty
sample converted under both tie rules."""
from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from dataset_converters.beauty import BeautyProtocol, convert_beauty
from dataset_converters.problems import ConversionError
from dataset_converters.protocol import (
    Event,
    SessionProtocol,
    build_sessions,
    order_statistics,
    split_sessions,
)

# Session s1: B, C and D share time 20 (lines 2-4); s2 has no tie; s3: E, F tie at 5.
EVENTS = [Event("s1", "A", 10, 1), Event("s1", "B", 20, 2), Event("s1", "C", 20, 3), Event("s1", "D", 20, 4),
          Event("s1", "E", 30, 5), Event("s2", "A", 1, 6), Event("s2", "B", 2, 7),
          Event("s3", "F", 5, 8), Event("s3", "E", 5, 9), Event("s3", "A", 9, 10)]
LOOSE = dict(split=(1.0, 0.0, 0.0))
BEAUTY_SAMPLE_FILE_ORDER_SHA256 = {  # the sample converted by the converter before the tie rule existed (e9d917f)
    "beauty.train.inter": "5bcab9c06b49a5329e2529d66b9ab4fb4bc07cc15a1a13168912610d89f196d3",
    "beauty.valid.inter": "f4fc059a8b43a766c805989325d79c276133b5250cc7c867828bc0c6e0af5c14",
    "beauty.test.inter": "47b235ae680bb2530afa5e3504140f4c2e65841707852a32ac6fdfdc0cdbeaa5",
    "beauty.item": "f00b21f5cb77d05527bb817e2de7faea85ae8529233fd04d4b9c9d712914cd36",
}


def item_lists(events: list[Event], **protocol) -> dict[str, list[str]]:
    return build_sessions(events, SessionProtocol(**{**LOOSE, **protocol})).item_lists()


def test_file_order_keeps_equal_times_in_line_order():
    assert item_lists(EVENTS, tie_order="file") == {"s1": list("ABCDE"), "s2": list("AB"), "s3": list("FEA")}


def test_random_order_is_deterministic_and_independent_of_the_file_order():
    first = item_lists(EVENTS, seed=3)
    shuffled = EVENTS[:]
    random.Random(0).shuffle(shuffled)
    renumbered = [event._replace(line=number) for number, event in enumerate(shuffled, start=1)]
    assert item_lists(renumbered, seed=3) == first == item_lists(EVENTS, seed=3)


def test_random_order_moves_only_events_with_equal_times():
    orders = [item_lists(EVENTS, seed=seed) for seed in range(40)]
    for lists in orders:
        assert lists["s1"][0] == "A" and lists["s1"][-1] == "E" and sorted(lists["s1"][1:4]) == list("BCD")
        assert lists["s2"] == list("AB") and lists["s3"][-1] == "A"
    assert len({tuple(lists["s1"]) for lists in orders}) == 6  # every order of the three tied events occurs
    assert {tuple(lists["s3"]) for lists in orders} == {tuple("FEA"), tuple("EFA")}


def test_order_statistics_count_tied_transitions_and_repeated_targets():
    events = EVENTS + [Event("s2", "A", 3, 11)]  # s2: A, B, A: the last target repeats an item of its prefix
    protocol = SessionProtocol(tie_order="file", **LOOSE)
    stats = order_statistics(build_sessions(events, protocol), protocol)
    # transitions: s1 4, s2 2, s3 2 = 8; tied: B-C, C-D (s1) and F-E (s3) = 3
    assert stats == {"tie_order": "file", "tie_seed": None, "transitions": 8, "tied_transitions": 3,
                     "tied_share": 0.375, "samples_with_target_in_prefix": 1}
    assert order_statistics(build_sessions(events, SessionProtocol(seed=5, **LOOSE)),
                            SessionProtocol(seed=5, **LOOSE))["tie_seed"] == 5


def test_split_sizes_and_seed():
    events = [Event(f"u{i:02d}", item, t, 2 * i + t) for i in range(10) for t, item in enumerate("AB")]
    protocol = SessionProtocol(seed=1)
    sessions = build_sessions(events, protocol)
    train, valid, test = split_sessions(sessions, protocol)
    assert (len(train), len(valid), len(test)) == (8, 1, 1)
    assert sorted(train + valid + test) == sorted(sessions.events)
    reversed_input = build_sessions(events[::-1], protocol)
    assert split_sessions(reversed_input, protocol) == [train, valid, test]
    assert {split_sessions(sessions, SessionProtocol(seed=s))[2][0] for s in range(20)} != {test[0]}


@pytest.mark.parametrize("bad, message", [({"split": (0.8, 0.1, 0.2)}, "--split"), ({"tie_order": "time"},
                                          "--tie_order"), ({"split_by": "user"}, "--split_by"),
                                          ({"max_len": 1}, "--max_len")])
def test_bad_protocol_settings_are_refused(bad, message):
    with pytest.raises(ConversionError, match=message):
        SessionProtocol(**bad)


def convert_sample(shared_data: Path, out: Path, tie_order: str) -> dict:
    sample = shared_data / "amazon_beauty_2014" / "sample"
    return convert_beauty(sample / "reviews_Beauty_5.sample.json", sample / "meta_Beauty.sample.json", out / "beauty",
                          BeautyProtocol(tie_order=tie_order))


def sessions_by_id(folder: Path) -> dict[str, list[str]]:
    """The whole session of each id, rebuilt from its longest prefix and target."""
    longest: dict[str, list[str]] = {}
    for split in ("train", "valid", "test"):
        for line in (folder / f"beauty.{split}.inter").read_text().splitlines()[1:]:
            session, prefix, target = line.split("\t")
            items = prefix.split() + [target]
            if len(items) > len(longest.get(session, [])):
                longest[session] = items
    return longest


def test_file_order_reproduces_the_converter_before_the_tie_rule_byte_for_byte(shared_data: Path, tmp_path: Path):
    stats = convert_sample(shared_data, tmp_path, "file")
    for name, digest in BEAUTY_SAMPLE_FILE_ORDER_SHA256.items():
        assert hashlib.sha256((tmp_path / "beauty" / name).read_bytes()).hexdigest() == digest, name
    assert stats["order"]["tie_order"] == "file" and stats["protocol"]["tie_order"] == "file"


def test_random_order_on_the_sample_changes_only_the_order_within_a_day(shared_data: Path, tmp_path: Path):
    by_file = convert_sample(shared_data, tmp_path / "file", "file")
    by_random = convert_sample(shared_data, tmp_path / "random", "random")
    again = convert_sample(shared_data, tmp_path / "again", "random")
    file_sessions = sessions_by_id(tmp_path / "file" / "beauty")
    random_sessions = sessions_by_id(tmp_path / "random" / "beauty")
    assert file_sessions.keys() == random_sessions.keys()
    assert all(sorted(file_sessions[s]) == sorted(random_sessions[s]) for s in file_sessions)
    changed = sum(file_sessions[s] != random_sessions[s] for s in file_sessions)
    assert 0 < changed < len(file_sessions)
    assert by_file["table1"] == by_random["table1"] and by_file["sessions"] == by_random["sessions"]
    assert by_random["order"] == again["order"] and by_random["order"]["tie_seed"] == 2025
    assert by_random["order"]["tied_transitions"] == by_file["order"]["tied_transitions"] > 0
    for split in ("train", "valid", "test"):
        name = f"beauty.{split}.inter"
        assert (tmp_path / "random" / "beauty" / name).read_bytes() == (tmp_path / "again" / "beauty" / name).read_bytes()


def test_held_out_items_leave_train_and_valid_and_stay_in_test(tmp_path: Path):
    from dataset_converters.protocol import split_and_write

    events = [Event(f"u{u:02d}", f"I{(u + k) % 10}", k, 10 * u + k) for u in range(20) for k in range(4)]
    protocol = SessionProtocol(seed=4, holdout_items=0.2, split=(0.5, 0.25, 0.25))
    sessions = build_sessions(events, protocol)
    before = {sid: [event.item for event in history] for sid, history in sessions.events.items()}
    written = split_and_write(tmp_path, "x", sessions, protocol)
    held = (tmp_path / "x.holdout_items").read_text().split()
    assert len(held) == 2 and held == sorted(held)
    train_valid, test = written.splits[0] + written.splits[1], written.splits[2]
    for sid in train_valid:
        assert written.item_lists[sid] == [item for item in before[sid] if item not in held]
    assert all(written.item_lists[sid] == before[sid] for sid in test)
    lines = {split: (tmp_path / f"x.{split}.inter").read_text() for split in ("train", "valid", "test")}
    assert not any(item in lines["train"].split() + lines["valid"].split() for item in held)
    cold = sum(target in held for sid in test for target in before[sid][1:])
    assert written.stats["holdout"]["test_samples_with_held_out_target"] == cold > 0
    (tmp_path / "again").mkdir()
    again = split_and_write(tmp_path / "again", "x", build_sessions(events, protocol), protocol)
    assert (tmp_path / "again" / "x.holdout_items").read_text() == (tmp_path / "x.holdout_items").read_text()
    assert again.splits == written.splits
