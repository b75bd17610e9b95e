"""Breakdowns by prefix length and training popularity on a hand-written toy split: bucket assignment, bucket
metrics, the data checks, and the report's breakdown section."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recbole_semsr.benchmark.breakdown import (
    AtomicFileError,
    breakdown_dataset,
    item_popularity_buckets,
    popularity_buckets,
    prefix_length_buckets,
    read_atomic_split,
)
from recbole_semsr.benchmark.report import write_report
from recbole_semsr.benchmark.significance import ComparisonSettings
from recbole_semsr.sample_ranks import stored_full_ranks, targets_sha256

HEADER = "session_id:token\titem_id_list:token_seq\titem_id:token\n"
# Training targets: A x 6, B x 3, C x 2, D x 1 (12). X and Y occur in prefixes only.
TRAIN_ROWS = [("s1", "X", "A")] * 6 + [("s2", "X Y", "B")] * 3 + [("s3", "Y", "C")] * 2 + [("s4", "X", "D")]
# Test samples (prefix length, target): (1, A) (2, B) (3, C) (4, D) (5, X) (9, A) (10, B) (12, Z)
TEST_ROWS = [("t1", " ".join(["X"] * length), target)
             for length, target in [(1, "A"), (2, "B"), (3, "C"), (4, "D"), (5, "X"), (9, "A"), (10, "B"), (12, "Z")]]
TEST_HASH = targets_sha256(target for _, _, target in TEST_ROWS)
RANKS = np.array([1, 2, 25, 4, 30, 1, 10, 1000])


def write_split(folder: Path, name: str, rows: list[tuple[str, str, str]]) -> Path:
    path = folder / f"toy.{name}.inter"
    path.write_text(HEADER + "".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def data_path(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "toy"
    folder.mkdir(parents=True)
    write_split(folder, "train", TRAIN_ROWS)
    write_split(folder, "test", TEST_ROWS)
    return tmp_path / "data"


def record(model: str, ranks: np.ndarray, targets_hash: str = TEST_HASH, **extra: Any) -> dict[str, Any]:
    return {"model": model, "dataset": "toy", "test_result": {"recall@20": float((ranks <= 20).mean())},
            "test_ranks": stored_full_ranks(ranks, targets_hash), **extra}


def test_prefix_length_buckets() -> None:
    assert prefix_length_buckets(np.array([1, 2, 3, 4, 5, 9, 10, 50])).tolist() == [0, 1, 2, 2, 3, 3, 4, 4]


def test_popularity_buckets_by_share_of_training_targets() -> None:
    # A alone holds 6 of 12 targets: head; B has 6 above it (half, under two thirds): middle; C has 9 above: tail
    assert item_popularity_buckets(["A"] * 6 + ["B"] * 3 + ["C"] * 2 + ["D"]) == {"A": 0, "B": 1, "C": 2, "D": 2}
    # Items of equal popularity share a bucket: A and B both have no strictly more popular item
    assert item_popularity_buckets(["A"] * 4 + ["B"] * 4 + ["C"] * 2 + ["D", "E"]) == \
        {"A": 0, "B": 0, "C": 2, "D": 2, "E": 2}
    # an item seen only inside training prefixes (X) is unseen as a target
    assert popularity_buckets(["A"] * 3 + ["B"] * 2 + ["C"], ["A", "B", "C", "X"]).tolist() == [0, 1, 2, 3]


def test_read_atomic_split_and_its_errors(data_path: Path, tmp_path: Path) -> None:
    split = read_atomic_split(data_path / "toy" / "toy.test.inter")
    assert split.prefix_lengths.tolist() == [1, 2, 3, 4, 5, 9, 10, 12]
    assert split.targets == ["A", "B", "C", "D", "X", "A", "B", "Z"]
    bad = tmp_path / "bad.inter"
    bad.write_text(HEADER + "s1\tA\tB\ns2\t\tC\n", encoding="utf-8")
    with pytest.raises(AtomicFileError, match=r"bad.inter:3: expected session id, a non-empty prefix and a target"):
        read_atomic_split(bad)
    bad.write_text("user_id:token\titem_id:token\n", encoding="utf-8")
    with pytest.raises(AtomicFileError, match=r"bad.inter:1: header"):
        read_atomic_split(bad)


def test_breakdown_tables_by_hand(data_path: Path) -> None:
    by_model = {"STAN": [record("STAN", RANKS)]}
    tables, notes = breakdown_dataset("toy", by_model, ["STAN"], data_path)
    assert notes == []
    length, popularity = tables
    assert length.counts == [1, 1, 2, 2, 2] and popularity.counts == [2, 2, 2, 2]
    # ranks at K=20 per bucket: 1: [1]; 2: [2]; 3-4: [25, 4]; 5-9: [30, 1]; >=10: [10, 1000]
    assert np.allclose(length.rows["STAN"], [(1, 1), (1, 0.5), (0.5, 0.125), (0.5, 0.5), (0.5, 0.05)])
    # head (A): ranks 1, 1; middle (B): 2, 10; tail (C, D): 25, 4; unseen (X, Z): 30, 1000
    assert np.allclose(popularity.rows["STAN"], [(1, 1), (1, 0.3), (0.5, 0.125), (0, 0)])


def test_breakdown_by_held_out_target(data_path: Path) -> None:
    (data_path / "toy" / "toy.holdout_items").write_text("Z\nC\n", encoding="utf-8")
    tables, notes = breakdown_dataset("toy", {"STAN": [record("STAN", RANKS)]}, ["STAN"], data_path)
    assert notes == [] and [table.title for table in tables][-1] == "target held out of training"
    cold = tables[-1]
    # held out: C (rank 25), Z (rank 1000); the other six: ranks 1, 2, 4, 30, 1, 10
    assert cold.counts == [2, 6]
    assert np.allclose(cold.rows["STAN"], [(0, 0), (5 / 6, (1 + 1 / 2 + 1 / 4 + 1 + 1 / 10) / 6)])


def test_breakdown_refuses_other_data(data_path: Path, tmp_path: Path) -> None:
    by_model = {
        "OTHER": [record("OTHER", RANKS, targets_hash=targets_sha256(["A"] * 8))],
        "RETRAINED": [record("RETRAINED", RANKS, data={"files": {"toy.train.inter": "0" * 64}})],
        "NISER": [record("NISER", RANKS)],
    }
    tables, notes = breakdown_dataset("toy", by_model, ["OTHER", "RETRAINED", "NISER"], data_path)
    assert list(tables[0].rows) == ["NISER"]
    assert notes[0].startswith("toy: OTHER left out of the breakdowns: ") and "is not the test data of its ranks" \
        in notes[0]
    assert notes[1].endswith("toy.train.inter is not the training file its runs record (sha256 differs)")
    tables, notes = breakdown_dataset("toy", by_model, ["NISER"], tmp_path / "nowhere")
    assert tables == [] and notes[0].startswith("toy: no breakdowns: ")
    assert notes[0].endswith("toy.test.inter: not found (expected a converter's atomic file)")


def test_report_writes_breakdown_tables_plot_and_csv(data_path: Path, tmp_path: Path) -> None:
    records = [record("STAN", RANKS), record("NISER", np.array([1, 1, 1, 1, 1, 1, 1, 1]))]
    files = write_report(records, tmp_path / "out", comparison=ComparisonSettings(resamples=200),
                         data_path=data_path)
    text = files.markdown.read_text()
    assert "### toy: by prefix length\n\n" \
           "| Model | 1 (n=1) | 2 (n=1) | 3–4 (n=2) | 5–9 (n=2) | ≥10 (n=2) |" in text
    assert "| STAN | 100.00 / 100.00 | 100.00 / 50.00 | 50.00 / 12.50 | 50.00 / 50.00 | 50.00 / 5.00 |" in text
    assert "| Model | head (n=2) | middle (n=2) | tail (n=2) | unseen (n=2) |" in text
    assert "![Breakdowns](breakdown_toy.png)" in text
    assert (tmp_path / "out" / "breakdown_toy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "breakdown.csv").read_text())))
    assert len(rows) == 2 * (5 + 4)
    assert rows[-1] == {"dataset": "toy", "breakdown": "target's training popularity", "bucket": "unseen",
                        "samples": "2", "model": "NISER", "R@20": "100.0000", "MRR@20": "100.0000"}
