"""`python -m recbole_semsr.recommend`: sessions file in, top-k lists out, bad input in one line."""
import json

import pytest

from recbole_semsr.recommend import main


def run_cli(checkpoint: str, sessions, output, *extra: str) -> dict:
    return main([f"--checkpoint={checkpoint}", f"--sessions={sessions}", f"--output={output}", "--k=5", *extra])


def test_jsonl_sessions_give_one_list_each_and_a_summary(recommend_checkpoints, tmp_path, capsys):
    sessions = tmp_path / "in.jsonl"
    sessions.write_text('{"session_id": "a", "items": ["242", "171", "nope"]}\n\n{"items": ["zzz"]}\n')
    output = tmp_path / "out.jsonl"
    counts = run_cli(recommend_checkpoints["NISER"], sessions, output)
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["session_id"] for line in lines] == ["a", "3"]
    assert len(lines[0]["items"]) == 5 and lines[0]["unknown"] == ["nope"] and lines[0]["fallback"] is None
    assert lines[1]["fallback"] == "popularity" and len(lines[1]["titles"]) == 5
    assert counts == {"sessions": 2, "ids": 4, "unknown": 2, "sessions_with_unknown": 2, "popularity": 1, "text": 0}
    assert "served 2 sessions (1 by popularity" in capsys.readouterr().out


def test_csv_events_are_grouped_into_sessions_in_file_order(recommend_checkpoints, tmp_path):
    sessions = tmp_path / "in.csv"
    sessions.write_text("session_id,item_id\ns1,242\ns2,50\ns1,171\n")
    run_cli(recommend_checkpoints["VSTAN"], sessions, tmp_path / "csv.jsonl")
    jsonl = tmp_path / "same.jsonl"
    jsonl.write_text('{"session_id": "s1", "items": ["242", "171"]}\n{"session_id": "s2", "items": ["50"]}\n')
    run_cli(recommend_checkpoints["VSTAN"], jsonl, tmp_path / "jsonl.jsonl")
    assert (tmp_path / "csv.jsonl").read_text() == (tmp_path / "jsonl.jsonl").read_text()


@pytest.mark.parametrize("name, content, message", [
    ("bad.jsonl", '{"items": ["242"]}\n{"items": ["242"\n', r"bad.jsonl, line 2: not JSON"),
    ("ints.jsonl", '{"items": [242]}\n', r"ints.jsonl, line 1: expected an object with \"items\": a list of item ids"),
    ("cols.csv", "session,item\ns1,242\n", r"cols.csv, line 1: expected the columns session_id, item_id"),
    ("short.csv", "session_id,item_id\ns1,242\ns2\n", r"short.csv, line 3: expected a session_id and an item_id"),
    ("in.txt", "242\n", r"in.txt: expected a .jsonl"),
])
def test_bad_sessions_file_stops_with_one_line_naming_file_and_line(recommend_checkpoints, tmp_path, name, content,
                                                                    message):
    sessions = tmp_path / name
    sessions.write_text(content)
    with pytest.raises(SystemExit, match=f"^error: .*{message}") as stopped:
        run_cli(recommend_checkpoints["NISER"], sessions, tmp_path / "out.jsonl")
    assert "\n" not in str(stopped.value) and not (tmp_path / "out.jsonl").exists()


def test_existing_output_is_kept_without_overwrite(recommend_checkpoints, tmp_path):
    sessions = tmp_path / "in.jsonl"
    sessions.write_text('{"items": ["242"]}\n')
    output = tmp_path / "out.jsonl"
    output.write_text("mine\n")
    with pytest.raises(SystemExit, match="out.jsonl exists; pass --overwrite"):
        run_cli(recommend_checkpoints["NISER"], sessions, output)
    assert output.read_text() == "mine\n"
    run_cli(recommend_checkpoints["NISER"], sessions, output, "--overwrite")
    assert json.loads(output.read_text())["items"]


def test_new_items_for_an_id_model_stop_with_the_reason(recommend_checkpoints, tmp_path):
    sessions = tmp_path / "in.jsonl"
    sessions.write_text('{"items": ["242"]}\n')
    items = tmp_path / "new.item"
    items.write_text("item_id:token\ttitle:token_seq\nnew-1\tA new film\n")
    with pytest.raises(SystemExit, match="NISER cannot score items without interactions"):
        run_cli(recommend_checkpoints["NISER"], sessions, tmp_path / "out.jsonl", f"--new_items={items}")
