"""Amazon Beauty 2014 converter: protocol steps on a hand-made fixture (hand-counted), bad input, atomic output,
the real sample and reconstructed files, and a RecBole load of the converted files."""
from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

import recbole_semsr  # noqa: F401  (applies the dependency fixes before RecBole is used)
from dataset_converters.beauty import BeautyProtocol, convert_beauty, main
from dataset_converters.problems import ConversionError

REPO = Path(__file__).resolve().parents[1]
# min_item_freq 2, users with >= 3 events, sessions keep 4 items, one user per split; ties in file order (the hand
# counts below; the random tie rule is tested in test_protocol.py)
SMALL = BeautyProtocol(min_item_freq=2, min_session_events=3, max_len=4, split=(1 / 3, 1 / 3, 1 / 3), seed=7,
                       tie_order="file")
LOOSE = BeautyProtocol(min_item_freq=1, min_session_events=1, max_len=50, split=(1.0, 0.0, 0.0), tie_order="file")

REVIEWS = [  # (line) user item time
    ("u1", "A", 10), ("u1", "B", 20), ("u1", "C", 20), ("u1", "D", 30), ("u1", "A", 40),  # 1-5: B, C tie at 20
    ("u2", "C", 5), ("u2", "A", 6), ("u2", "B", 7),                                       # 6-8
    ("u3", "A", 1), ("u3", "E", 2), ("u3", "B", 3),                                       # 9-11: E is rare
    ("u4", "D", 1), ("u4", "C", 2), ("u4", "B", 3),                                       # 12-14
    ("u4", "D", 1),                                                                       # 15: repeats line 12
    ("u5", "X", 1),                                                                       # 16: X has no meta
]
META = [
    {"asin": "A", "title": "Rose &amp; Oud\tEau\nde Parfum", "brand": "L&#39;Atelier", "price": 12.5,
     "salesRank": {"Beauty": 321}, "categories": [["Beauty", "Fragrance"], ["Beauty", "Gift Sets"]]},
    {"asin": "B", "title": "", "brand": "Bee"},
    {"asin": "C", "title": "Cream", "description": "Rich &quot;night&quot; cream", "categories": [["Beauty"]]},
    {"asin": "D", "title": 'The "best" mask'},
    {"asin": "E", "title": "Rare"},
]


T0 = 1_390_000_000  # January 2014: fixture times are seconds after it


def review_line(user: str, item: str, seconds: int) -> str:
    """A review ``seconds`` after T0."""
    return json.dumps({"reviewerID": user, "asin": item, "unixReviewTime": T0 + seconds, "reviewTime": "01 1, 2014"})


def write_lines(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines))
    return path


def fixture_files(folder: Path, extra_reviews: tuple = (), extra_meta: tuple = ()) -> tuple[Path, Path]:
    reviews = write_lines(folder / "reviews.json", [review_line(*row) for row in REVIEWS] + list(extra_reviews))
    meta = write_lines(folder / "meta.json", [repr(record) for record in META] + list(extra_meta))
    return reviews, meta


def read_inter(path: Path) -> list[tuple[str, list[str], str]]:
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        assert header == ["session_id:token", "item_id_list:token_seq", "item_id:token"]
        return [(sid, prefix.split(" "), target) for sid, prefix, target in
                (line.rstrip("\n").split("\t") for line in handle)]


def read_items(path: Path) -> dict[str, dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    names = [field.split(":")[0] for field in rows[0]]
    return {row[0]: dict(zip(names, row)) for row in rows[1:]}


def all_samples(folder: Path, name: str = "beauty") -> dict[str, list]:
    return {split: read_inter(folder / f"{name}.{split}.inter") for split in ("train", "valid", "test")}


def test_protocol_on_hand_made_fixture(tmp_path: Path) -> None:
    reviews, meta = fixture_files(tmp_path)
    stats = convert_beauty(reviews, meta, tmp_path / "out", SMALL)
    samples = all_samples(tmp_path / "out")
    by_user = {}
    for split, rows in samples.items():
        users = {sid for sid, _, _ in rows}
        assert len(users) == 1, split  # users, not samples, are split: one user per split
        by_user[users.pop()] = rows
    # u1: A B C D A by (time, line) -> most recent 4 = B C D A; u3 is dropped (E is rare, then 2 < 3 events)
    assert by_user == {
        "u1": [("u1", ["B"], "C"), ("u1", ["B", "C"], "D"), ("u1", ["B", "C", "D"], "A")],
        "u2": [("u2", ["C"], "A"), ("u2", ["C", "A"], "B")],
        "u4": [("u4", ["D"], "C"), ("u4", ["D", "C"], "B")],
    }
    table = stats["table1"]
    assert (table["#train"] + table["#valid"] + table["#test"], table["#items"], table["#sessions"]) == (7, 4, 3)
    assert table["avg_session_length"] == pytest.approx(10 / 3, abs=1e-4)
    assert stats["removed"] == {
        "duplicate events": 1,
        "events of items without metadata": 1,
        "events of items with frequency < 2": 1,
        "events of sessions with < 3 events": 2,
        "events before the most recent 4 of a session": 1,
        "sessions shorter than 2": 0,
    }
    assert stats["problems"]["counts"] == {"duplicate event": 1, "unknown item": 1, "empty title": 1}
    assert json.loads((tmp_path / "out" / "beauty.stats.json").read_text()) == stats


def test_item_file_unescapes_html_and_keeps_each_item_on_one_line(tmp_path: Path) -> None:
    reviews, meta = fixture_files(tmp_path)
    convert_beauty(reviews, meta, tmp_path / "out", SMALL)
    path = tmp_path / "out" / "beauty.item"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1 + 4
    items = read_items(path)
    assert sorted(items) == ["A", "B", "C", "D"]
    assert items["A"] == {"item_id": "A", "title": "Rose & Oud Eau de Parfum", "brand": "L'Atelier",
                          "categories": "Beauty > Fragrance | Beauty > Gift Sets", "price": "12.5",
                          "sales_type": "Beauty", "sales_rank": "321", "description": ""}
    assert items["C"]["description"] == 'Rich "night" cream'
    assert items["D"]["title"] == 'The "best" mask'
    assert items["B"]["title"] == ""


def test_max_len_and_short_sessions(tmp_path: Path) -> None:
    reviews = write_lines(tmp_path / "r.json", [review_line("u1", item, t) for t, item in enumerate("ABCDEF")]
                          + [review_line("u2", "A", 1)])
    meta = write_lines(tmp_path / "m.json", [repr({"asin": a, "title": a}) for a in "ABCDEF"])
    protocol = BeautyProtocol(min_item_freq=1, min_session_events=1, max_len=3, split=(1.0, 0.0, 0.0))
    stats = convert_beauty(reviews, meta, tmp_path / "out", protocol)
    assert read_inter(tmp_path / "out" / "beauty.train.inter") == [("u1", ["D"], "E"), ("u1", ["D", "E"], "F")]
    assert stats["removed"]["events before the most recent 3 of a session"] == 3
    assert stats["removed"]["sessions shorter than 2"] == 1  # u2 has one event
    assert stats["table1"]["#items"] == 3


def test_ratings_csv_and_gzip_inputs(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings_Beauty.csv"
    ratings.write_text(f"u1,A,5.0,{T0 + 3}\nu1,B,4.0,{T0 + 1}\nu1,C,1.0,{T0 + 2}\n", encoding="utf-8")
    meta = tmp_path / "meta_Beauty.json.gz"
    with gzip.open(meta, "wt", encoding="utf-8") as handle:
        handle.write("".join(repr({"asin": a, "title": f"t{a}"}) + "\n" for a in "ABC"))
    convert_beauty(ratings, meta, tmp_path / "out", LOOSE)
    assert read_inter(tmp_path / "out" / "beauty.train.inter") == [("u1", ["B"], "C"), ("u1", ["B", "C"], "A")]


BASE_REVIEWS = [review_line("u1", "A", 1), review_line("u1", "B", 2), review_line("u1", "A", 3)]
BASE_META = [repr({"asin": "A", "title": "a"}), repr({"asin": "B", "title": "b"})]
BAD_INPUT = {  # kind: (extra review lines, extra meta lines, reported reason, file, line)
    "malformed JSON": (['{"reviewerID": "u1", "asin": '], [], "malformed JSON line", "r.json", 4),
    "not a JSON object": (["[1, 2]"], [], "malformed JSON line", "r.json", 4),
    "missing field": (['{"reviewerID": "u1", "asin": "A"}'], [], "missing field unixReviewTime", "r.json", 4),
    "bad timestamp": (['{"reviewerID": "u1", "asin": "A", "unixReviewTime": "soon"}'], [], "bad unixReviewTime",
                      "r.json", 4),
    "bad id": ([review_line("u 1", "A", 5)], [], "bad user or item id", "r.json", 4),
    "unknown encoding": ([b'{"reviewerID": "u1", "asin": "\xff\xfe", "unixReviewTime": 1390000005}'], [],
                         "undecodable line", "r.json", 4),
    "duplicate event": ([review_line("u1", "B", 2)], [], "duplicate event", "r.json", 4),
    "unknown item": ([review_line("u1", "Z", 9)], [], "unknown item", "r.json", 4),
    "malformed meta literal": ([], ["{'asin': 'A', 'title': 'unterminated"], "malformed meta line", "m.json", 3),
    "meta without asin": ([], [repr({"title": "no id"})], "missing field asin", "m.json", 3),
    "duplicate meta": ([], [repr({"asin": "B", "title": "again"})], "duplicate meta record", "m.json", 3),
    "empty title": ([], [], "empty title", "m.json", 1),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUT))
def test_bad_input_is_counted_or_fatal_under_strict(tmp_path: Path, kind: str) -> None:
    extra_reviews, extra_meta, reason, file_name, line = BAD_INPUT[kind]
    meta_lines = [repr({"asin": "A", "title": ""})] + BASE_META[1:] if kind == "empty title" else BASE_META
    reviews = write_lines(tmp_path / "r.json", BASE_REVIEWS + extra_reviews)
    meta = write_lines(tmp_path / "m.json", meta_lines + extra_meta)
    stats = convert_beauty(reviews, meta, tmp_path / "lenient", LOOSE)
    assert stats["problems"]["counts"] == {reason: 1}
    assert stats["problems"]["examples"][reason][0].startswith(f"{tmp_path / file_name}:{line}: {reason}")
    assert read_inter(tmp_path / "lenient" / "beauty.train.inter") == [("u1", ["A"], "B"), ("u1", ["A", "B"], "A")]
    with pytest.raises(ConversionError, match=f"{file_name}:{line}: {reason}"):
        convert_beauty(reviews, meta, tmp_path / "strict", LOOSE, strict=True)
    assert not (tmp_path / "strict").exists()
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_output_is_never_overwritten_without_flag_and_replaced_with_it(tmp_path: Path) -> None:
    reviews = write_lines(tmp_path / "r.json", BASE_REVIEWS)
    meta = write_lines(tmp_path / "m.json", BASE_META)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError, match="--overwrite"):
        convert_beauty(reviews, meta, out, LOOSE)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    convert_beauty(reviews, meta, out, LOOSE, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["beauty.item", "beauty.stats.json", "beauty.test.inter",
                                                     "beauty.train.inter", "beauty.valid.inter"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "out", "r.json"]


def test_cli_writes_files_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    reviews, meta = fixture_files(tmp_path)
    argv = ["--reviews", str(reviews), "--meta", str(meta), "--output_dir", str(tmp_path / "cli"), "--name", "tiny",
            "--min_item_freq", "2", "--min_user_interactions", "3", "--max_len", "4", "--split", "1", "0", "0"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "#train 7  #valid 0  #test 0  #items 4" in printed and "1  duplicate event" in printed
    assert (tmp_path / "cli" / "tiny.train.inter").is_file()
    assert main(argv) == 1  # exists, no --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(argv + ["--overwrite", "--encoding", "no-such-codec"]) == 1
    assert "unknown encoding 'no-such-codec'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_recbole_reads_the_converted_files(tmp_path: Path) -> None:
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation

    reviews, meta = fixture_files(tmp_path)
    convert_beauty(reviews, meta, tmp_path / "data" / "beauty", SMALL)
    config = Config(model="GRU4Rec", dataset="beauty", config_file_list=[str(REPO / "properties/overall.yaml")],
                    config_dict={"data_path": str(tmp_path / "data"), "train_neg_sample_args": None,
                                 "show_progress": False, "checkpoint_dir": str(tmp_path / "saved")})
    dataset = create_dataset(config)
    assert dataset.item_num == 5  # A, B, C, D + padding
    splits = data_preparation(config, dataset)
    expected = {split: rows for split, rows in all_samples(tmp_path / "data" / "beauty").items()}
    for loader, split in zip(splits, ("train", "valid", "test")):
        feat = loader.dataset.inter_feat
        decoded = []
        for seq, length, target in zip(feat["item_id_list"], feat["item_length"], feat["item_id"]):
            prefix = list(dataset.id2token("item_id", seq[: int(length)].tolist()))
            decoded.append((prefix, str(dataset.id2token("item_id", int(target)))))
        assert sorted(decoded) == sorted((prefix, target) for _, prefix, target in expected[split])


def independent_sample_counts(reviews: Path) -> tuple[int, int]:
    """(#samples, #items) of the paper protocol computed with pandas, independently of the converter."""
    import pandas as pd

    frame = pd.read_json(reviews, lines=True)
    frame["line"] = range(len(frame))
    frame = frame[frame.groupby("asin")["asin"].transform("size") >= 5]
    frame = frame[frame.groupby("reviewerID")["reviewerID"].transform("size") > 5]
    frame = frame.sort_values(["unixReviewTime", "line"]).groupby("reviewerID").tail(50)
    lengths = frame.groupby("reviewerID").size()
    return int((lengths[lengths >= 2] - 1).sum()), frame["asin"].nunique()


def test_real_sample_slice(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "amazon_beauty_2014" / "sample"
    reviews = folder / "reviews_Beauty_5.sample.json"
    stats = convert_beauty(reviews, folder / "meta_Beauty.sample.json", tmp_path / "out")
    table = stats["table1"]
    assert (table["#train"] + table["#valid"] + table["#test"], table["#items"]) == independent_sample_counts(reviews)
    items = read_items(tmp_path / "out" / "beauty.item")
    assert len(items) == table["#items"]
    assert all(not any(c in row["title"] for c in "\t\n") for row in items.values())
    assert stats["problems"]["counts"].keys() <= {"empty title"}


def test_real_reconstructed_file_matches_the_reference_totals(shared_data: Path, tmp_path: Path) -> None:
    """docs/paper_notes.md (reference implementations): 114,834 + 14,498 + 14,344 = 143,676 samples over 12,097 items (split seed differs)."""
    folder = shared_data / "amazon_beauty_2014" / "reconstructed"
    stats = convert_beauty(folder / "reviews_Beauty_5.reconstructed.json",
                           folder / "meta_Beauty_5core.reconstructed.json", tmp_path / "out")
    table = stats["table1"]
    assert table["#train"] + table["#valid"] + table["#test"] == 143_676
    assert table["#items"] == 12_097
    assert sum(stats["sessions"].values()) == table["#sessions"]
    assert stats["sessions"]["train"] == round(0.8 * table["#sessions"])


def test_ensure_dataset_converts_from_raw_folder_or_explains(tmp_path: Path) -> None:
    from dataset_converters.prepare import DatasetNotFoundError, ensure_dataset

    data, raw = tmp_path / "data", tmp_path / "raw"
    with pytest.raises(DatasetNotFoundError) as error:
        ensure_dataset("beauty", data, None)
    message = str(error.value)
    assert f"missing {data / 'beauty' / 'beauty.train.inter'}" in message
    assert "raw_data_path is not set" in message
    assert "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/reviews_Beauty_5.json.gz" in message
    assert (f"python -m dataset_converters.beauty --reviews RAW_DIR/reviews_Beauty_5.json.gz --meta "
            f"RAW_DIR/meta_Beauty.json.gz --output_dir {data / 'beauty'}") in message
    raw.mkdir()
    # ten users who each review the same six items: passes the paper's default filters (>= 5, > 5), 8/1/1 users
    write_lines(raw / "reviews_Beauty_5.json", [review_line(f"u{u}", f"I{i}", i) for u in range(10) for i in range(6)])
    write_lines(raw / "meta_Beauty.json", [repr({"asin": f"I{i}", "title": f"t{i}"}) for i in range(6)])
    ensure_dataset("beauty", data, raw)
    stats = json.loads((data / "beauty" / "beauty.stats.json").read_text())
    assert stats["table1"]["#train"] + stats["table1"]["#valid"] + stats["table1"]["#test"] == 10 * 5
    assert stats["source"]["reviews"] == str(raw / "reviews_Beauty_5.json")


def test_encoding_flag_reads_latin1_files(tmp_path: Path) -> None:
    reviews = write_lines(tmp_path / "r.json", BASE_REVIEWS)
    meta = write_lines(tmp_path / "m.json", [repr({"asin": "A", "title": "Crème"}).encode("latin-1"), BASE_META[1]])
    with pytest.raises(ConversionError, match="m.json:1: undecodable line .not valid utf-8"):
        convert_beauty(reviews, meta, tmp_path / "utf8", LOOSE, strict=True)
    convert_beauty(reviews, meta, tmp_path / "latin1", LOOSE, encoding="latin-1")
    assert read_items(tmp_path / "latin1" / "beauty.item")["A"]["title"] == "Crème"


# --- implausible times, damaged files, encodings, silent losses ---------------------------------------------

@pytest.mark.parametrize("seconds", [(T0 + 9) * 1000, -5, 1e30])
def test_implausible_review_time_is_counted_not_used_and_fatal_under_strict(tmp_path: Path, seconds) -> None:
    """u1 reviews A, B, A; a fourth review of B at an implausible time would become the session's last target."""
    bad = json.dumps({"reviewerID": "u1", "asin": "B", "unixReviewTime": seconds})
    reviews = write_lines(tmp_path / "r.json", BASE_REVIEWS + [bad])
    meta = write_lines(tmp_path / "m.json", BASE_META)
    stats = convert_beauty(reviews, meta, tmp_path / "lenient", LOOSE)
    assert stats["problems"]["counts"] == {"timestamp out of range": 1}
    assert stats["problems"]["examples"]["timestamp out of range"][0].startswith(f"{reviews}:4: timestamp out of range")
    assert read_inter(tmp_path / "lenient" / "beauty.train.inter") == [("u1", ["A"], "B"), ("u1", ["A", "B"], "A")]
    with pytest.raises(ConversionError, match=r"r.json:4: timestamp out of range .*--time_range"):
        convert_beauty(reviews, meta, tmp_path / "strict", LOOSE, strict=True)


def test_time_range_option_widens_the_plausible_range(tmp_path: Path) -> None:
    reviews = write_lines(tmp_path / "r.json", [json.dumps({"reviewerID": "u1", "asin": a, "unixReviewTime": t})
                                                for a, t in (("A", 1), ("B", 2), ("A", 3))])
    meta = write_lines(tmp_path / "m.json", BASE_META)
    argv = ["--reviews", str(reviews), "--meta", str(meta), "--min_item_freq", "1", "--min_user_interactions", "1",
            "--split", "1", "0", "0"]
    assert main(argv + ["--output_dir", str(tmp_path / "default"), "--strict"]) == 1
    assert main(argv + ["--output_dir", str(tmp_path / "wide"), "--strict", "--time_range", "0", "100"]) == 0
    assert read_inter(tmp_path / "wide" / "beauty.train.inter") == [("u1", ["A"], "B"), ("u1", ["A", "B"], "A")]


def gzip_bytes(lines: list[str]) -> bytes:
    return gzip.compress("".join(line + "\n" for line in lines).encode())


@pytest.mark.parametrize("damage, expected", [
    (lambda data: data[: len(data) // 2], "not a readable gzip file"),
    (lambda data: b"plain text, not gzip\n", "not a readable gzip file"),
])
def test_damaged_gzip_is_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture, damage,
                                                  expected) -> None:
    reviews = tmp_path / "reviews.json.gz"
    reviews.write_bytes(damage(gzip_bytes(BASE_REVIEWS * 200)))
    meta = write_lines(tmp_path / "m.json", BASE_META)
    assert main(["--reviews", str(reviews), "--meta", str(meta), "--output_dir", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {reviews}: {expected}") and "Traceback" not in error


@pytest.mark.parametrize("encoding, flag", [("utf-16", "utf-8"), ("utf-8-sig", "utf-8"), ("utf-16-le", "utf-16-le"),
                                            ("utf-16", "utf-16")])
def test_utf16_and_byte_order_marks_are_decoded(tmp_path: Path, encoding: str, flag: str) -> None:
    reviews = tmp_path / "r.json"
    reviews.write_bytes("".join(line + "\n" for line in BASE_REVIEWS).encode(encoding))
    meta = tmp_path / "m.json"
    meta.write_bytes("".join(line + "\n" for line in
                             [repr({"asin": "A", "title": "Crème ✓"}), BASE_META[1]]).encode(encoding))
    stats = convert_beauty(reviews, meta, tmp_path / "out", LOOSE, encoding=flag, strict=True)
    assert stats["table1"]["#train"] == 2
    assert read_items(tmp_path / "out" / "beauty.item")["A"]["title"] == "Crème ✓"


def test_undecodable_utf16_line_is_counted_with_file_and_line(tmp_path: Path) -> None:
    reviews = tmp_path / "r.json"
    lines = BASE_REVIEWS[:2] + ["\udc00"] + BASE_REVIEWS[2:]
    reviews.write_bytes("".join(line + "\n" for line in lines).encode("utf-16-le", errors="surrogatepass"))
    meta = tmp_path / "m.json"
    meta.write_bytes("".join(line + "\n" for line in BASE_META).encode("utf-16-le"))
    stats = convert_beauty(reviews, meta, tmp_path / "out", LOOSE, encoding="utf-16-le")
    assert stats["problems"]["examples"] == {"undecodable line": [f"{reviews}:3: undecodable line (not valid "
                                                                  "utf-16-le)"]}
    assert read_inter(tmp_path / "out" / "beauty.train.inter") == [("u1", ["A"], "B"), ("u1", ["A", "B"], "A")]


def test_empty_meta_file_is_blamed_on_the_meta_file(tmp_path: Path) -> None:
    reviews = write_lines(tmp_path / "r.json", BASE_REVIEWS)
    meta = tmp_path / "m.json"
    meta.write_bytes(b"")
    with pytest.raises(ConversionError, match=f"^{meta}: the file is empty$"):
        convert_beauty(reviews, meta, tmp_path / "out", LOOSE)


def test_no_session_left_shows_the_problem_tally_first(tmp_path: Path) -> None:
    reviews = write_lines(tmp_path / "r.json", BASE_REVIEWS + [b"\xff\xfe broken"] * 3)
    meta = write_lines(tmp_path / "m.json", BASE_META)
    protocol = BeautyProtocol(min_item_freq=10, min_session_events=1, split=(1.0, 0.0, 0.0))
    with pytest.raises(ConversionError) as error:
        convert_beauty(reviews, meta, tmp_path / "out", protocol)
    lines = str(error.value).splitlines()
    assert lines[0] == "3 bad input records reported:" and "3  undecodable line" in lines[1]
    assert lines[-1] == f"{reviews}: no session is left after the protocol's filters"


def test_fields_that_are_not_text_or_numbers_are_counted_and_all_text_unescaped(tmp_path: Path) -> None:
    reviews = write_lines(tmp_path / "r.json", BASE_REVIEWS)
    meta = write_lines(tmp_path / "m.json", [
        repr({"asin": "A", "title": ["Rose", "Oud"], "brand": {"name": "x"}, "price": "$12",
              "salesRank": {"Health &amp; Personal Care": "n/a"}}),
        repr({"asin": "B", "title": "b", "price": 3.5, "salesRank": {"Beauty &amp; Care": 12}}),
    ])
    stats = convert_beauty(reviews, meta, tmp_path / "out", LOOSE)
    assert stats["problems"]["counts"] == {"bad title": 1, "bad brand": 1, "bad price": 1, "bad salesRank": 1,
                                           "empty title": 1}
    assert stats["problems"]["examples"]["bad title"][0].startswith(f"{meta}:1: bad title (list, not text; asin A")
    items = read_items(tmp_path / "out" / "beauty.item")
    assert (items["A"]["title"], items["A"]["price"], items["A"]["sales_rank"]) == ("", "", "")
    assert items["A"]["sales_type"] == "Health & Personal Care" and items["B"]["sales_type"] == "Beauty & Care"
    with pytest.raises(ConversionError, match="m.json:1: bad title"):
        convert_beauty(reviews, meta, tmp_path / "strict", LOOSE, strict=True)
