import pandas as pd

from dataset_converters import ml100k
from dataset_converters.prepare import ensure_dataset


def test_sessions_are_cut_at_gaps_and_keep_the_most_recent_items():
    ratings = pd.DataFrame({
        "user_id": [1, 1, 1, 1, 1, 2, 2, 3],
        "item_id": [10, 11, 12, 13, 14, 20, 21, 30],
        # user 1: 10,11 | gap | 12,13,14 (ties keep file order); user 2: one session; user 3: too short
        "timestamp": [0, 100, 5000, 5000, 5100, 7, 8, 9],
    })
    assert ml100k.cut_sessions(ratings, session_gap=3600, max_len=2) == [["10", "11"], ["13", "14"], ["20", "21"]]
    assert ml100k.cut_sessions(ratings, session_gap=10**6, max_len=50) == [["10", "11", "12", "13", "14"],
                                                                           ["20", "21"]]


def test_runner_hook_converts_ml100k_from_the_recbole_wheel(tmp_path):
    ensure_dataset("ml-100k", tmp_path, raw_data_path=None)
    folder = tmp_path / "ml-100k"
    rows = {split: sum(1 for _ in open(folder / f"ml-100k.{split}.inter")) - 1 for split in ("train", "valid", "test")}
    assert 0.75 < rows["train"] / sum(rows.values()) < 0.85
    header, first = (folder / "ml-100k.item").read_text().splitlines()[:2]
    assert header == "item_id:token\ttitle:token_seq\trelease_year:token\tgenres:token_seq"
    assert first == "1\tToy Story\t1995\tAnimation Children's Comedy"
