"""Your own sessions in one command (`dataset_converters.sessions`), then the runner on the result."""
from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pandas as pd
import pytest

from dataset_converters import sessions
from dataset_converters.problems import ProblemLog
from dataset_converters.readers import iter_csv_records
from dataset_converters.kdd_m2 import parse_prev_items
from recbole_semsr.embeddings import ItemFileError
from recbole_semsr.quick_start import run

N_ITEMS = 120  # more than the default topk of 100
START = 1_700_000_000  # 2023-11-14 22:13:20 UTC: times inside the default --time_range


def make_events(n_sessions: int = 60, per_session: int = 5, n_items: int = N_ITEMS) -> list[dict]:
    """Sessions of consecutive item ids, a few seconds apart, each session an hour after the previous one."""
    rng = random.Random(0)
    rows = []
    for session in range(n_sessions):
        for position in range(per_session):
            rows.append({"sess": f"s{session}", "product": f"p{rng.randrange(n_items)}",
                         "ts": START + 3600 * session + 10 * position})
    return rows


def write_csv(path: Path, rows: list[dict], extra_lines: str = "") -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    with path.open("a", encoding="latin-1") as handle:
        handle.write(extra_lines)
    return path


def write_items(path: Path, n_items: int = N_ITEMS) -> Path:
    rows = [{"pid": f"p{i}", "name": f"Widget {i}", "maker": f"Maker {i % 7}", "unused": "x"} for i in range(n_items)]
    rows.append({"pid": "p3", "name": "a second row for p3", "maker": "", "unused": ""})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


BAD_ROWS = ("s90,,5\n"                 # missing item
            "s90,p\xe9,5\n"             # not utf-8 (written as latin-1 below)
            "s90,p 1,6\n"              # id with whitespace
            "s90,p1,yesterday\n"       # bad time
            "s90,p1\n")                # wrong number of fields


def command(events: Path, output: Path, *extra: str) -> list[str]:
    """The documented command line."""
    return ["--interactions", str(events), "--session_col", "sess", "--item_col", "product", "--time_col", "ts",
            *extra, "--output_dir", str(output)]


@pytest.fixture
def converted_shop(tmp_path, capsys) -> Path:
    events = write_csv(tmp_path / "events.csv", make_events(), BAD_ROWS)
    items = write_items(tmp_path / "items.csv")
    status = sessions.main(command(events, tmp_path / "dataset" / "shop", "--items", str(items),
                                   "--item_id_col", "pid", "--text_cols", "name,maker"))
    assert status == 0
    return tmp_path / "dataset"


def test_own_sessions_end_to_end_with_bad_rows_then_a_sem_model_runs(converted_shop, tmp_path, capsys,
                                                                     monkeypatch):
    printed = capsys.readouterr().out
    events = tmp_path / "events.csv"
    for line, reason in ((302, "missing session or item id"), (303, "undecodable line"),
                         (304, "bad session or item id"), (305, "bad ts"), (306, "wrong number of fields")):
        assert f"{events}:{line}: {reason}" in printed
    assert f"{tmp_path / 'items.csv'}:122: duplicate pid" in printed
    folder = converted_shop / "shop"
    stats = json.loads((folder / "shop.stats.json").read_text())
    assert stats["table1"]["#sessions"] == 60 and stats["sessions"] == {"train": 48, "valid": 6, "test": 6}
    assert stats["table1"]["#train"] + stats["table1"]["#valid"] + stats["table1"]["#test"] == 60 * 4
    assert sum(stats["problems"]["counts"].values()) == 6
    first = (folder / "shop.train.inter").read_text().splitlines()[:2]
    assert first[0] == "session_id:token\titem_id_list:token_seq\titem_id:token"
    header, *rows = (folder / "shop.item").read_text().splitlines()
    assert header == "item_id:token\tname:token\tmaker:token"
    assert "p3\tWidget 3\tMaker 3" in rows
    assert sessions.text_template(["name", "maker"]) == ["{name}", "maker: {maker}"]

    monkeypatch.chdir(tmp_path)
    result = run("SemNISER_F", "shop", config_dict={
        "data_path": str(converted_shop), "epochs": 1, "show_progress": False, "embedding_size": 16,
        "checkpoint_dir": str(tmp_path / "saved"), "sem_embedding_dir": str(tmp_path / "vectors")})
    assert result["epochs"] == 1 and set(result["test_result"]) >= {"recall@20", "recall@100"}
    assert result["config"]["sem_text_template"] == ["{name}", "maker: {maker}"]


def test_without_items_the_id_models_run_and_the_sem_models_say_there_is_no_text(tmp_path, monkeypatch):
    events = write_csv(tmp_path / "events.csv", make_events())
    assert sessions.main(command(events, tmp_path / "dataset" / "bare")) == 0
    assert not (tmp_path / "dataset" / "bare" / "bare.item").exists()
    monkeypatch.chdir(tmp_path)
    config = {"data_path": str(tmp_path / "dataset"), "epochs": 1, "show_progress": False, "embedding_size": 16,
              "checkpoint_dir": str(tmp_path / "saved")}
    with pytest.raises(ItemFileError, match="dataset bare has no item text"):
        run("SemNISER_F", "bare", config_dict=config)
    assert run("NISER", "bare", config_dict=config)["epochs"] == 1


@pytest.mark.parametrize("fmt", ["tsv", "parquet", "jsonl", "utf16.csv", "bom.tsv"])
def test_tsv_parquet_and_json_lines_give_the_csv_result(tmp_path, fmt):
    rows = make_events(20, 4)
    frame = pd.DataFrame(rows)
    write_csv(tmp_path / "events.csv", rows)
    path = tmp_path / f"events.{fmt}"
    {"tsv": lambda: frame.to_csv(path, sep="\t", index=False), "parquet": lambda: frame.to_parquet(path),
     "jsonl": lambda: frame.to_json(path, orient="records", lines=True),
     "utf16.csv": lambda: frame.to_csv(path, index=False, encoding="utf-16"),
     "bom.tsv": lambda: frame.to_csv(path, sep="\t", index=False, encoding="utf-8-sig")}[fmt]()
    columns = sessions.Columns("sess", "product", "ts")
    sessions.convert_sessions(tmp_path / "events.csv", tmp_path / "a" / "x", columns)
    sessions.convert_sessions(path, tmp_path / "b" / "x", columns)
    for split in ("train", "valid", "test"):
        assert (tmp_path / "a" / "x" / f"x.{split}.inter").read_text() == \
            (tmp_path / "b" / "x" / f"x.{split}.inter").read_text()


def test_protocol_options(tmp_path):
    rows = make_events(20, 4)
    rows += [{"sess": "late", "product": "rare", "ts": "2030-01-01T00:00:00"},
             {"sess": "late", "product": "p1", "ts": "2030-01-01T00:00:05"}]
    events = write_csv(tmp_path / "events.csv", rows)
    columns = sessions.Columns("sess", "product", "ts")
    stats = sessions.convert_sessions(events, tmp_path / "t" / "x", columns, sessions.SessionProtocol(
        split_by="time", split=(0.5, 0.25, 0.25), max_len=3))
    test_sessions = {line.split("\t")[0] for line in (tmp_path / "t" / "x" / "x.test.inter").read_text().splitlines()[1:]}
    assert "late" in test_sessions and "s0" not in test_sessions
    assert stats["removed"]["events before the most recent 3 of a session"] == 20
    stats = sessions.convert_sessions(events, tmp_path / "f" / "x", columns, sessions.SessionProtocol(min_item_freq=2))
    assert stats["removed"]["events of items with frequency < 2"] >= 1  # "rare" occurs once
    gappy = write_csv(tmp_path / "gappy.csv", rows + [{"sess": "g", "product": "p1", "ts": t} for t in (START, START + 9, START + 500, START + 509)])
    gap = sessions.convert_sessions(gappy, tmp_path / "g" / "x", columns, sessions.SessionProtocol(session_gap=100))
    assert gap["table1"]["#sessions"] == 20 + 1 + 2  # "g" cut in two at its 491 s gap


def test_bad_input_is_a_one_line_error(tmp_path):
    events = write_csv(tmp_path / "events.csv", make_events(5, 3))
    with pytest.raises(sessions.ConversionError, match=r"events.csv:1: no column 'when' in the header"):
        sessions.convert_sessions(events, tmp_path / "o", sessions.Columns("sess", "product", "when"))
    with pytest.raises(sessions.ConversionError, match="--items needs --text_cols"):
        sessions.convert_sessions(events, tmp_path / "o", sessions.Columns("sess", "product", "ts"),
                                  items=events)
    (tmp_path / "o").mkdir()
    with pytest.raises(sessions.ConversionError, match="already exists; pass --overwrite"):
        sessions.convert_sessions(events, tmp_path / "o", sessions.Columns("sess", "product", "ts"))


def test_plain_recbole_dataset_runs_with_no_overrides_and_a_too_large_topk_is_explained(tmp_path, monkeypatch):
    folder = tmp_path / "dataset" / "plain"
    folder.mkdir(parents=True)
    rows = make_events(40, 5, n_items=30)
    inter = folder / "plain.inter"
    with inter.open("w") as handle:
        handle.write("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        handle.writelines(f"{row['sess']}\t{row['product']}\t5\t{row['ts']}\n" for row in rows)
    original = inter.read_bytes()
    monkeypatch.chdir(tmp_path)
    config = {"data_path": str(tmp_path / "dataset"), "epochs": 1, "show_progress": False, "embedding_size": 16,
              "checkpoint_dir": str(tmp_path / "saved")}
    with pytest.raises(ValueError, match=r"topk \[20, 100\]: dataset plain has only 30 items"):
        run("NISER", "plain", config_dict=config)
    assert (folder / "plain.train.inter").is_file() and inter.read_bytes() == original
    with pytest.raises(ValueError, match=r"valid_metric Recall@100 needs 100 in topk \[5, 10\]"):
        run("NISER", "plain", config_dict={**config, "topk": [5, 10]})
    result = run("NISER", "plain", config_dict={**config, "topk": [5, 10], "valid_metric": "Recall@10"})
    assert result["epochs"] == 1 and "recall@10" in result["test_result"]


def test_amazon_m2_derived_csv_as_own_sessions(shared_data: Path, tmp_path):
    source = shared_data / "amazon_m2" / "derived_csv" / "task2_public_test_as_sessions_train_format.csv"
    events = tmp_path / "m2_events.csv"
    lengths = []
    with events.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["session", "item", "position"])
        header = ("prev_items", "next_item", "locale")
        for line, record in iter_csv_records(source, header, "utf-8", ProblemLog()):
            items = parse_prev_items(record[0]) + [record[1]]
            writer.writerows([f"m{line}", item, position] for position, item in enumerate(items))
            lengths.append(len(items))
    positions = sessions.TimeRule(range=(0, 100))  # positions, not unix times: the range says so
    stats = sessions.convert_sessions(events, tmp_path / "m2" / "m2", sessions.Columns("session", "item", "position"),
                                      times=positions)
    table = stats["table1"]
    assert table["#sessions"] == len(lengths) > 30_000
    assert table["#train"] + table["#valid"] + table["#test"] == sum(min(n, 50) - 1 for n in lengths)
    assert stats["problems"]["counts"] == {}
    assert stats["sessions"]["train"] == round(0.8 * len(lengths))
