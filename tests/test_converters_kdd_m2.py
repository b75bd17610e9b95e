"""Amazon-M2 converter: streaming parse (quoted multi-line prev_items), split rule, products, bad input, the real
task-2 sessions against their parquet originals, and a RecBole load of the converted files."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

import recbole_semsr  # noqa: F401  (applies the dependency fixes before RecBole is used)
from dataset_converters.problems import ConversionError
from dataset_converters.kdd_m2 import M2Options, convert_kdd_m2, main, parse_prev_items
from dataset_converters.prepare import DatasetNotFoundError, ensure_dataset

REPO = Path(__file__).resolve().parents[1]
PRODUCT_HEADER = "id,locale,title,price,brand,color,size,model,material,author,desc"
SESSIONS = """prev_items,next_item,locale
['P1' 'P2'],P3,UK
['P9' 'P1'],P2,DE
"['P1' 'P2' 'P3' 'P4' 'P5'
 'P6']",P7,UK
['P2' 'P8'],P1,UK
['P3'],P4,UK
['P4' 'P5'],P6,UK
['P5' 'P6' 'P7'],P1,UK
"""
PRODUCTS = f"""{PRODUCT_HEADER}
P1,UK,Kettle,12.99,Acme,red,1 l,K1,steel,,"A ""steel""
kettle"
P1,DE,Wasserkocher,10.00,Acme,,,,,,
P2,UK,Mug,2.50,,,,,,,
P3,UK,Tea,3,,,,,,,
P4,UK,Cup,4,,,,,,,
P5,UK,Spoon,5,,,,,,,
P6,UK,Plate,6,,,,,,,
P7,UK,Bowl,7,,,,,,Ann Author,
"""
# valid_n 1, test_n 2, sessions keep 4 items: usable UK rows s2 s4 s7 s8 s9 (s6 names P8, not a product)
SMALL = M2Options(locale="UK", max_len=4, valid_n=1, test_n=2, recent_n=1)


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def read_inter(path: Path) -> list[tuple[str, list[str], str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "session_id:token\titem_id_list:token_seq\titem_id:token"
    return [(sid, prefix.split(" "), target) for sid, prefix, target in (line.split("\t") for line in lines[1:])]


def read_items(path: Path) -> dict[str, dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    names = [field.split(":")[0] for field in rows[0]]
    return {row[0]: dict(zip(names, row)) for row in rows[1:]}


def convert_small(tmp_path: Path, sessions: str | bytes = SESSIONS, products: str = PRODUCTS, **kwargs) -> dict:
    return convert_kdd_m2(write(tmp_path / "sessions.csv", sessions), write(tmp_path / "products.csv", products),
                          tmp_path / "out", kwargs.pop("options", SMALL), **kwargs)


def test_parse_prev_items_handles_numpy_wrapping() -> None:
    assert parse_prev_items("['B09W9FND7K' 'B09JSPLN1M']") == ["B09W9FND7K", "B09JSPLN1M"]
    assert parse_prev_items("['A1' 'B2' 'C3'\n 'D4']") == ["A1", "B2", "C3", "D4"]
    assert parse_prev_items("['A1', 'B2']") is None  # commas are not numpy's layout
    assert parse_prev_items("[A1 B2]") is None
    assert parse_prev_items("[]") is None
    assert parse_prev_items("['A 1']") is None


def test_split_rule_and_max_len_on_hand_made_files(tmp_path: Path) -> None:
    stats = convert_small(tmp_path)
    out = tmp_path / "out"
    assert read_inter(out / "kdd_m2_uk.train.inter") == [("s2", ["P1", "P2"], "P3"), ("s4", ["P4", "P5", "P6"], "P7")]
    assert read_inter(out / "kdd_m2_uk.valid.inter") == [("s7", ["P3"], "P4")]
    assert read_inter(out / "kdd_m2_uk.test.inter") == [("s8", ["P4", "P5"], "P6"), ("s9", ["P5", "P6", "P7"], "P1")]
    assert read_inter(out / "kdd_m2_uk.recent.inter") == [("s9", ["P5", "P6", "P7"], "P1")]
    table = stats["table1"]
    assert (table["#train"], table["#valid"], table["#test"], table["#items"]) == (2, 1, 2, 7)
    assert table["avg_session_length"] == pytest.approx(16 / 5)
    assert stats["removed"] == {"sessions of other locales than UK": 1, "sessions referencing unknown items": 1,
                                "items before the most recent 4 of a session": 3}
    assert stats["problems"]["counts"] == {"unknown item": 1}
    assert stats["problems"]["examples"]["unknown item"][0].startswith(f"{tmp_path / 'sessions.csv'}:6: unknown item")
    assert (stats["#recent"], stats["#items_with_text"]) == (1, 7)


def test_item_file_has_the_locale_text_on_one_line(tmp_path: Path) -> None:
    convert_small(tmp_path)
    path = tmp_path / "out" / "kdd_m2_uk.item"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1 + 7
    items = read_items(path)
    assert list(items) == ["P1", "P2", "P3", "P4", "P5", "P6", "P7"]
    assert items["P1"] == {"item_id": "P1", "title": "Kettle", "price": "12.99", "brand": "Acme", "color": "red",
                           "size": "1 l", "model": "K1", "material": "steel", "author": "", "desc": 'A "steel" kettle'}
    assert items["P7"]["author"] == "Ann Author"


def test_keep_unknown_items_keeps_the_session_with_an_empty_text_row(tmp_path: Path) -> None:
    options = M2Options(locale="UK", max_len=4, valid_n=1, test_n=2, recent_n=1, keep_unknown_items=True)
    stats = convert_small(tmp_path, options=options)
    assert read_inter(tmp_path / "out" / "kdd_m2_uk.train.inter")[-1] == ("s6", ["P2", "P8"], "P1")
    assert read_items(tmp_path / "out" / "kdd_m2_uk.item")["P8"]["title"] == ""
    assert (stats["table1"]["#items"], stats["#items_with_text"]) == (8, 7)


def test_official_test_file_with_row_aligned_targets(tmp_path: Path) -> None:
    test_sessions = write(tmp_path / "test.csv", "prev_items,locale\n['P1'],UK\n['P9'],DE\n\"['P2'\n 'P3']\",UK\n")
    targets = write(tmp_path / "gt.csv", "next_item,locale\nP2,UK\nP1,DE\nP4,UK\n")
    options = M2Options(locale="UK", max_len=4, valid_n=2, recent_n=1)
    stats = convert_small(tmp_path, options=options, test_sessions=test_sessions, test_targets=targets)
    out = tmp_path / "out"
    assert [sid for sid, _, _ in read_inter(out / "kdd_m2_uk.train.inter")] == ["s2", "s4", "s7"]
    assert [sid for sid, _, _ in read_inter(out / "kdd_m2_uk.valid.inter")] == ["s8", "s9"]
    assert read_inter(out / "kdd_m2_uk.test.inter") == [("t2", ["P1"], "P2"), ("t4", ["P2", "P3"], "P4")]
    assert read_inter(out / "kdd_m2_uk.recent.inter") == [("t4", ["P2", "P3"], "P4")]
    assert stats["split_rule"] == "official test file"


def test_misaligned_targets_are_an_error(tmp_path: Path) -> None:
    test_sessions = write(tmp_path / "test.csv", "prev_items,locale\n['P1'],UK\n['P9'],DE\n")
    targets = write(tmp_path / "gt.csv", "next_item,locale\nP2,DE\nP1,UK\n")
    with pytest.raises(ConversionError, match="test.csv:2: .*not row-aligned"):
        convert_small(tmp_path, options=M2Options(valid_n=1), test_sessions=test_sessions, test_targets=targets)
    assert not (tmp_path / "out").exists()


def test_too_few_sessions_for_the_holdout(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="only 5 usable UK sessions"):
        convert_small(tmp_path, options=M2Options(valid_n=3, test_n=2))


def test_header_must_match_the_official_layout(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"products.csv:1: expected a header starting with id,locale,title"):
        convert_small(tmp_path, products="asin,locale,title\n")


CLEAN = SESSIONS.replace("['P2' 'P8'],P1,UK\n", "")  # 8 lines; an appended row is line 9
BAD_INPUT = {  # kind: (sessions text, products text, reason, file, line)
    "malformed prev_items": (CLEAN + "[P1 P2],P3,UK\n", PRODUCTS, "malformed prev_items", "sessions.csv", 9),
    "missing next_item": (CLEAN + "['P1'],,UK\n", PRODUCTS, "missing field next_item", "sessions.csv", 9),
    "wrong field count": (CLEAN + "['P1'],P2\n", PRODUCTS, "wrong number of fields", "sessions.csv", 9),
    "unknown encoding": (CLEAN.encode() + b"['P1' '\xff'],P2,UK\n", PRODUCTS, "undecodable line", "sessions.csv", 9),
    "bad item id": (CLEAN + "['P1'],P 2,UK\n", PRODUCTS, "bad item id", "sessions.csv", 9),
    "unknown item": (CLEAN + "['P8'],P1,UK\n", PRODUCTS, "unknown item", "sessions.csv", 9),
    "duplicate product": (CLEAN, PRODUCTS + "P2,UK,Mug again,,,,,,,,\n", "duplicate product", "products.csv", 11),
    "empty title": (CLEAN, PRODUCTS.replace("P3,UK,Tea,", "P3,UK,,"), "empty title", "products.csv", 6),
    "bad price": (CLEAN, PRODUCTS.replace("P2,UK,Mug,2.50", "P2,UK,Mug,cheap"), "bad price", "products.csv", 5),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUT))
def test_bad_input_is_counted_or_fatal_under_strict(tmp_path: Path, kind: str) -> None:
    sessions, products, reason, file_name, line = BAD_INPUT[kind]
    options = M2Options(locale="UK", max_len=4, valid_n=1, test_n=1, recent_n=1)
    stats = convert_small(tmp_path, sessions, products, options=options)
    assert stats["problems"]["counts"] == {reason: 1}
    assert stats["problems"]["examples"][reason][0].startswith(f"{tmp_path / file_name}:{line}: {reason}")
    assert stats["table1"]["#train"] + stats["table1"]["#valid"] + stats["table1"]["#test"] == 5
    with pytest.raises(ConversionError, match=f"{file_name}:{line}: {reason}"):
        convert_kdd_m2(tmp_path / "sessions.csv", tmp_path / "products.csv", tmp_path / "strict", options,
                       strict=True)
    assert not (tmp_path / "strict").exists()
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path / "sessions.csv", SESSIONS)
    write(tmp_path / "products.csv", PRODUCTS)
    argv = ["--sessions", str(tmp_path / "sessions.csv"), "--products", str(tmp_path / "products.csv"),
            "--output_dir", str(tmp_path / "cli"), "--max_len", "4", "--valid_n", "1", "--test_n", "2",
            "--recent_n", "1"]
    assert main(argv) == 0
    assert "#train 2  #valid 1  #test 2  #items 7" in capsys.readouterr().out
    assert main(argv + ["--overwrite", "--strict"]) == 1
    assert "sessions.csv:6: unknown item" in capsys.readouterr().err
    assert main(argv + ["--download", str(tmp_path / "raw")]) == 1
    assert "aicrowd.com" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0


def test_ensure_dataset_converts_from_raw_folder_or_explains(tmp_path: Path) -> None:
    data, raw = tmp_path / "data", tmp_path / "raw"
    with pytest.raises(DatasetNotFoundError) as error:
        ensure_dataset("kdd_m2_uk", data, raw)
    message = str(error.value)
    assert "sessions_train.csv" in message and "products_train.csv" in message and "aicrowd.com" in message
    assert f"python -m dataset_converters.kdd_m2 --sessions {raw / 'sessions_train.csv'}" in message
    assert f"--locale UK --output_dir {data / 'kdd_m2_uk'}" in message
    raw.mkdir()
    write(raw / "sessions_train.csv", SESSIONS.replace("['P2' 'P8'],P1,UK\n", "") + "['P1'],P2,UK\n" * 20_000)
    write(raw / "products_train.csv", PRODUCTS)
    ensure_dataset("kdd_m2_uk", data, raw)
    folder = data / "kdd_m2_uk"
    stats_file = folder / "kdd_m2_uk.stats.json"
    assert stats_file.is_file() and (folder / "kdd_m2_uk.recent.inter").is_file()
    before = stats_file.stat().st_mtime_ns
    ensure_dataset("kdd_m2_uk", data, raw)  # already converted: no-op
    assert stats_file.stat().st_mtime_ns == before
    ensure_dataset("ml-100k", data, None)  # not ours: no-op


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_recbole_reads_the_converted_files(tmp_path: Path) -> None:
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation

    convert_kdd_m2(write(tmp_path / "s.csv", SESSIONS), write(tmp_path / "p.csv", PRODUCTS),
                   tmp_path / "data" / "kdd_m2_uk", SMALL)
    config = Config(model="GRU4Rec", dataset="kdd_m2_uk",
                    config_file_list=[str(REPO / "properties/overall.yaml")],
                    config_dict={"data_path": str(tmp_path / "data"), "train_neg_sample_args": None,
                                 "show_progress": False, "checkpoint_dir": str(tmp_path / "saved")})
    dataset = create_dataset(config)
    assert dataset.item_num == 8
    train, valid, test = data_preparation(config, dataset)
    assert (len(train.dataset), len(valid.dataset), len(test.dataset)) == (2, 1, 2)
    feat = test.dataset.inter_feat
    last = feat["item_id_list"][1][: int(feat["item_length"][1])].tolist()
    assert list(dataset.id2token("item_id", last)) == ["P5", "P6", "P7"]
    assert dataset.id2token("item_id", int(feat["item_id"][1])) == "P1"


def test_real_task2_sessions_match_their_parquet_originals(shared_data: Path, tmp_path: Path) -> None:
    """The derived CSV (numpy-wrapped prev_items) parses back to the parquet arrays, in both official layouts."""
    import pyarrow.parquet as pq

    folder = shared_data / "amazon_m2"
    train_layout = folder / "derived_csv" / "task2_public_test_as_sessions_train_format.csv"
    sessions = pq.read_table(folder / "task2" / "public_test" / "sessions_test.parquet").to_pylist()
    targets = folder / "task2" / "public_test" / "DONT_SHARE_gt_test.parquet"
    truth = [(list(row["prev_items"]), target["next_item"]) for row, target in
             zip(sessions, pq.read_table(targets).to_pylist()) if row["locale"] == "ES"]
    items = sorted({item for prefix, target in truth for item in (*prefix, target)})
    products = tmp_path / "products_train.csv"
    with open(products, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PRODUCT_HEADER.split(","))
        writer.writerows([item, "ES", f"title of {item}", "1.00", "", "", "", "", "", "", ""] for item in items)
    options = M2Options(locale="ES", max_len=1000, valid_n=1000, recent_n=500)
    stats = convert_kdd_m2(train_layout, products, tmp_path / "a", options, test_sessions=train_layout)
    assert stats["problems"]["counts"] == {}
    assert stats["table1"]["#test"] == len(truth) == 8176
    assert stats["table1"]["#items"] == len(items)
    written = [(prefix, target) for _, prefix, target in read_inter(tmp_path / "a" / "kdd_m2_es.test.inter")]
    assert written == truth
    assert any(len(prefix) > 7 for prefix, _ in truth)  # rows wrapped over lines by numpy are among them
    assert len(read_inter(tmp_path / "a" / "kdd_m2_es.recent.inter")) == 500
    convert_kdd_m2(train_layout, products, tmp_path / "b", options,
                   test_sessions=folder / "derived_csv" / "task2_public_test_as_sessions_test_format.csv",
                   test_targets=targets)
    assert (tmp_path / "b" / "kdd_m2_es.test.inter").read_bytes() == (tmp_path / "a" / "kdd_m2_es.test.inter"
                                                                      ).read_bytes()
    assert re.search(r"^s\d+\t", (tmp_path / "a" / "kdd_m2_es.train.inter").read_text().splitlines()[1])


def test_too_few_sessions_shows_the_problem_tally_first(tmp_path: Path) -> None:
    broken = "prev_items,next_item,locale\n" + "[P1 P2],P3,UK\n" * 4 + "['P1' 'P2'],P3,UK\n"
    with pytest.raises(ConversionError) as error:
        convert_small(tmp_path, sessions=broken)
    lines = str(error.value).splitlines()
    assert lines[0] == "4 bad input records reported:" and "4  malformed prev_items" in lines[1]
    assert "only 1 usable UK sessions" in lines[-1]


@pytest.mark.parametrize("which", ["sessions", "products"])
def test_empty_input_file_is_named(tmp_path: Path, which: str) -> None:
    with pytest.raises(ConversionError, match=f"{which}.csv: the file is empty"):
        convert_small(tmp_path, **{which: ""})


def test_utf16_input_with_a_byte_order_mark_is_decoded(tmp_path: Path) -> None:
    convert_small(tmp_path, sessions=SESSIONS.encode("utf-16"), strict=False)
    assert len(read_inter(tmp_path / "out" / "kdd_m2_uk.train.inter")) == 2
