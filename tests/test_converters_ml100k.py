import pandas as pd
import pytest

from dataset_converters import ml100k
from dataset_converters.problems import ConversionError
from dataset_converters.prepare import ensure_dataset
from dataset_converters.protocol import SessionProtocol, build_sessions


def test_sessions_are_cut_at_gaps_and_keep_the_most_recent_items():
    ratings = pd.DataFrame({
        "user_id": [1, 1, 1, 1, 1, 2, 2, 3],
        "item_id": [10, 11, 12, 13, 14, 20, 21, 30],
        # user 1: 10,11 | gap | 12,13,14 (ties keep file order); user 2: one session; user 3: too short
        "timestamp": [0, 100, 5000, 5000, 5100, 7, 8, 9],
    })
    def cut(session_gap: int, max_len: int) -> dict[str, list[str]]:
        protocol = SessionProtocol(session_gap=session_gap, max_len=max_len, tie_order="file")
        return build_sessions(ml100k.rating_events(ratings), protocol).item_lists()

    assert cut(session_gap=3600, max_len=2) == {"1_0": ["10", "11"], "1_1": ["13", "14"], "2": ["20", "21"]}
    assert cut(session_gap=10**6, max_len=50) == {"1": ["10", "11", "12", "13", "14"], "2": ["20", "21"]}


def test_runner_hook_converts_ml100k_from_the_recbole_wheel(tmp_path):
    ensure_dataset("ml-100k", tmp_path, raw_data_path=None)
    folder = tmp_path / "ml-100k"
    rows = {split: sum(1 for _ in open(folder / f"ml-100k.{split}.inter")) - 1 for split in ("train", "valid", "test")}
    assert 0.75 < rows["train"] / sum(rows.values()) < 0.85
    header, first = (folder / "ml-100k.item").read_text().splitlines()[:2]
    assert header == "item_id:token\ttitle:token_seq\trelease_year:token\tgenres:token_seq"
    assert first == "1\tToy Story\t1995\tAnimation Children's Comedy"


def test_ratings_at_implausible_times_are_reported_and_skipped(tmp_path, caplog):
    source = tmp_path / "source"
    source.mkdir()
    rows = ["1\t10\t5\t880000000", "1\t11\t5\t880000100", "1\t12\t5\t880000200000", "1\t13\t5\t-1"]
    rows += [f"{user}\t{item}\t5\t88000000{item - 10}" for user in range(2, 11) for item in (10, 11)]  # 9 more
    (source / "ml-100k.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                          + "\n".join(rows) + "\n")
    (source / "ml-100k.item").write_text("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
                                         + "".join(f"{item}\tT{item}\t1995\tDrama\n" for item in (10, 11, 12, 13)))
    with caplog.at_level("WARNING"):
        stats = ml100k.convert(tmp_path / "out", source_dir=source, seed=1)
    table = stats["table1"]
    assert table["#train"] + table["#valid"] + table["#test"] == 10  # user 1's session left: [10] -> 11, 9 others
    assert stats["problems"]["counts"] == {"timestamp out of range": 2}
    assert f"{source / 'ml-100k.inter'}:4: timestamp out of range" in caplog.text
    assert "2  timestamp out of range" in caplog.text
    with pytest.raises(ConversionError, match=r"ml-100k.inter:4: timestamp out of range"):
        ml100k.convert(tmp_path / "strict", source_dir=source, strict=True)
