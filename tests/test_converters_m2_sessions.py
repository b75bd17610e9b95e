"""Amazon-M2 sessions with their true next items (dataset_converters/m2_sessions.py): a hand-counted fixture in
both file layouts, bad rows, and the real task 2 public test sessions."""
from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataset_converters.problems import ConversionError
from dataset_converters.m2_sessions import convert_m2_sessions
from dataset_converters.protocol import SessionProtocol

ROWS = [  # prev_items, locale, next_item
    (["A", "B"], "ES", "C"),
    (["B"], "FR", "A"),
    (["C", "A", "C"], "IT", "D"),  # repeats C inside the session
    (["A"], "DE", "B"),  # another locale
]
ALL_TRAIN = SessionProtocol(split=(1.0, 0.0, 0.0))


def write_parquet(folder: Path) -> tuple[Path, Path]:
    sessions, targets = folder / "sessions_test.parquet", folder / "gt.parquet"
    pq.write_table(pa.table({"prev_items": [r[0] for r in ROWS], "locale": [r[1] for r in ROWS]}), sessions)
    pq.write_table(pa.table({"next_item": [r[2] for r in ROWS], "locale": [r[1] for r in ROWS]}), targets)
    return sessions, targets


def write_official_csv(path: Path, rows=ROWS) -> Path:
    """The official sessions_train.csv layout: prev_items as str(numpy.ndarray), with a line break inside."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prev_items", "next_item", "locale"])
        for items, locale, target in rows:
            writer.writerow(["[" + "\n ".join(f"'{item}'" for item in items) + "]", target, locale])
    return path


def read_samples(folder: Path, name: str) -> list[tuple[str, str, str]]:
    lines = (folder / f"{name}.train.inter").read_text().splitlines()[1:]
    return [tuple(line.split("\t")) for line in lines]


def test_each_row_with_its_target_is_one_session_and_every_prefix_a_sample(tmp_path: Path):
    sessions, targets = write_parquet(tmp_path)
    stats = convert_m2_sessions(sessions, tmp_path / "out" / "m2", targets, protocol=ALL_TRAIN)
    assert read_samples(tmp_path / "out" / "m2", "m2") == [
        ("s1", "A", "B"), ("s1", "A B", "C"),
        ("s2", "B", "A"),
        ("s3", "C", "A"), ("s3", "C A", "C"), ("s3", "C A C", "D"),
    ]
    assert stats["removed"]["sessions of other locales than ES, FR, IT"] == 1
    assert stats["table1"]["#sessions"] == 3 and stats["table1"]["#items"] == 4
    assert stats["order"]["transitions"] == 6 and stats["order"]["samples_with_target_in_prefix"] == 1
    assert stats["order"]["tied_transitions"] == 0 and "not applicable" in stats["order"]["tie_order"]


def test_the_csv_layout_gives_the_same_files_as_parquet(tmp_path: Path):
    sessions, targets = write_parquet(tmp_path)
    thirds = SessionProtocol(split=(1 / 3, 1 / 3, 1 / 3))
    convert_m2_sessions(sessions, tmp_path / "a" / "m2", targets, protocol=thirds)
    convert_m2_sessions(write_official_csv(tmp_path / "s.csv"), tmp_path / "b" / "m2", protocol=thirds)
    for split in ("train", "valid", "test"):
        name = f"m2.{split}.inter"
        assert (tmp_path / "a" / "m2" / name).read_bytes() == (tmp_path / "b" / "m2" / name).read_bytes()


def test_locales_and_extra_sessions_without_targets(tmp_path: Path):
    sessions, targets = write_parquet(tmp_path)
    extra = tmp_path / "task3.parquet"
    pq.write_table(pa.table({"prev_items": [["E", "F"], ["G"]], "locale": ["DE", "DE"]}), extra)
    convert_m2_sessions(sessions, tmp_path / "out" / "m2", targets, extra_sessions=[extra], locales=["de"],
                        protocol=ALL_TRAIN)
    # DE rows: the task 2 row A -> B, and the task 3 row E, F (G alone is too short)
    assert read_samples(tmp_path / "out" / "m2", "m2") == [("s4", "A", "B"), ("x1_1", "E", "F")]


def test_bad_rows_are_reported_and_misaligned_targets_refused(tmp_path: Path):
    rows = ROWS[:2] + [(["bad id"], "IT", "D")]
    stats = convert_m2_sessions(write_official_csv(tmp_path / "s.csv", rows), tmp_path / "out" / "m2",
                                protocol=ALL_TRAIN)
    assert stats["problems"]["counts"] == {"malformed prev_items": 1}
    sessions, _ = write_parquet(tmp_path)
    short_targets = tmp_path / "short.parquet"
    pq.write_table(pa.table({"next_item": ["C"], "locale": ["ES"]}), short_targets)
    with pytest.raises(ConversionError, match="more session rows than targets"):
        convert_m2_sessions(sessions, tmp_path / "x" / "m2", short_targets)


def test_real_task2_public_sessions(shared_data: Path, tmp_path: Path):
    folder = shared_data / "amazon_m2" / "task2" / "public_test"
    stats = convert_m2_sessions(folder / "sessions_test.parquet", tmp_path / "m2_task2",
                                folder / "DONT_SHARE_gt_test.parquet")
    assert stats["table1"]["#sessions"] == 34_688
    # every session is its prev_items plus the target: samples = items - sessions
    samples = stats["table1"]["#train"] + stats["table1"]["#valid"] + stats["table1"]["#test"]
    assert samples == stats["order"]["transitions"] == 132_280
    assert stats["sessions"] == {"train": 27_750, "valid": 3_469, "test": 3_469}
    assert stats["problems"]["counts"] == {}
