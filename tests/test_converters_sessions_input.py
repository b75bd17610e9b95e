"""The sessions converter on input that used to pass silently: impossible times, machine-dependent time zones, ids
pandas reads as missing, duplicate rows, an item table whose ids do not match, too few sessions; and interrupts."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dataset_converters import sessions
from dataset_converters.command_line import run_cli_conversion, terminate_as_interrupt
from dataset_converters.problems import ConversionError
from dataset_converters.writers import atomic_output_dir
from dataset_converters.event_times import parse_time

REPO = Path(__file__).resolve().parents[1]
START = 1_700_000_000
COLUMNS = sessions.Columns("sess", "product", "ts")


def write_events(path: Path, rows: list[tuple[str, str, object]]) -> Path:
    pd.DataFrame(rows, columns=["sess", "product", "ts"]).to_csv(path, index=False)
    return path


def good_rows(n_sessions: int = 10) -> list[tuple[str, str, object]]:
    return [(f"s{s}", f"p{(s + k) % 7}", START + 100 * s + k) for s in range(n_sessions) for k in range(3)]


def test_impossible_and_ambiguous_times_are_refused_with_their_reason():
    for value in ("nan", "inf", "-inf", float("nan"), float("inf")):
        assert "not a finite time" in parse_time(value)
    for value in ("1e30", "-5", "1700000000000", "20231115", "2023", 2023):
        assert "is outside" in parse_time(value), value
    assert "milliseconds?" in parse_time("1700000000000")
    assert parse_time("1700000000000", "epoch_ms") == 1_700_000_000.0
    assert parse_time("20231115", "%Y%m%d") == 1_700_006_400.0  # 2023-11-15 00:00 UTC
    assert "expected a number" in parse_time("2023-11-15", "epoch")
    assert parse_time("2023-11-15T00:00:00") == parse_time("2023-11-15T01:00:00+01:00") == 1_700_006_400.0


def test_refused_times_are_counted_per_line_and_never_reach_a_session(tmp_path: Path):
    bad = ["nan", "inf", "-inf", "1e30", "-5", "1700000000000", "20231115", "2023"]
    rows = good_rows() + [("bad", "p1", value) for value in bad]
    stats = sessions.convert_sessions(write_events(tmp_path / "e.csv", rows), tmp_path / "out" / "x", COLUMNS)
    assert sum(stats["problems"]["counts"].values()) == len(bad)
    assert stats["problems"]["counts"] == {"bad ts": len(bad)}
    inter = "".join((tmp_path / "out" / "x" / f"x.{split}.inter").read_text() for split in ("train", "valid", "test"))
    assert "bad\t" not in inter


def test_naive_iso_times_are_utc_whatever_the_machine_time_zone(tmp_path: Path):
    # 2024-03-10 02:30 does not exist in New York (the clocks jump from 02:00 to 03:00)
    rows = [(f"s{s}", f"p{k}", f"2024-03-10T0{1 + (s + k) % 3}:{10 * k:02d}:00") for s in range(10) for k in range(4)]
    events = write_events(tmp_path / "e.csv", rows)
    outputs = []
    for zone in ("UTC", "America/New_York"):
        out = tmp_path / zone.replace("/", "_") / "x"
        subprocess.run([sys.executable, "-m", "dataset_converters.sessions", "--interactions", str(events),
                        "--session_col", "sess", "--item_col", "product", "--time_col", "ts", "--session_gap", "1800",
                        "--split_by", "time", "--output_dir", str(out)],
                       check=True, cwd=REPO, env={**os.environ, "TZ": zone}, capture_output=True)
        outputs.append([(out / f"x.{split}.inter").read_bytes() for split in ("train", "valid", "test")])
    assert outputs[0] == outputs[1]


def test_ids_that_pandas_reads_as_missing_are_renamed_and_counted(tmp_path: Path):
    missing = ["NA", "null", "None", "nan", "N/A", "#N/A", "NULL", "NaN"]
    rows = good_rows() + [("NA", item, START + k) for k, item in enumerate(missing)]
    stats = sessions.convert_sessions(write_events(tmp_path / "e.csv", rows), tmp_path / "out" / "x", COLUMNS,
                                      sessions.SessionProtocol(split=(1.0, 0.0, 0.0)))
    assert stats["problems"]["counts"]["id read as missing by pandas, renamed"] == 2 * len(missing)  # session + item
    frame = pd.read_csv(tmp_path / "out" / "x" / "x.train.inter", sep="\t")
    assert not frame.isna().any().any()
    assert "_NA" in set(frame["session_id:token"]) and "_null" in set(frame["item_id:token"])


def test_a_renamed_id_that_exists_already_is_refused(tmp_path: Path):
    rows = good_rows() + [("s1", "NA", START + 50), ("s1", "_NA", START + 51)]
    with pytest.raises(ConversionError, match="renamed id '_NA' is also an id"):
        sessions.convert_sessions(write_events(tmp_path / "e.csv", rows), tmp_path / "out" / "x", COLUMNS)


def test_exact_duplicate_interactions_are_dropped_and_reported(tmp_path: Path):
    rows = good_rows()
    events = write_events(tmp_path / "e.csv", rows + rows[:6])
    stats = sessions.convert_sessions(events, tmp_path / "out" / "x", COLUMNS)
    assert stats["removed"]["duplicate interactions"] == 6 and stats["problems"]["counts"] == {"duplicate event": 6}
    assert stats["table1"]["#train"] + stats["table1"]["#valid"] + stats["table1"]["#test"] == 10 * 2
    kept = sessions.convert_sessions(events, tmp_path / "keep" / "x", COLUMNS, keep_duplicates=True)
    assert kept["removed"]["duplicate interactions"] == 0
    assert kept["table1"]["#train"] + kept["table1"]["#valid"] + kept["table1"]["#test"] == 10 * 2 + 6


def test_an_item_table_with_float_ids_is_explained_in_the_summary(tmp_path: Path, capsys):
    rows = [(f"s{s}", str(1000 + (s + k) % 7), START + 100 * s + k) for s in range(10) for k in range(3)]
    events = write_events(tmp_path / "e.csv", rows)
    items = tmp_path / "items.csv"
    pd.DataFrame({"pid": [1000.0 + i for i in range(7)], "name": [f"item {i}" for i in range(7)]}).to_csv(
        items, index=False)
    argv = ["--interactions", str(events), "--session_col", "sess", "--item_col", "product", "--time_col", "ts",
            "--items", str(items), "--item_id_col", "pid", "--text_cols", "name", "--output_dir", str(tmp_path / "o")]
    assert sessions.main(argv) == 0
    printed = capsys.readouterr().out
    assert "7 of 7 items have no row in the item table" in printed and "written as floats" in printed


def test_too_few_sessions_for_the_split_are_refused(tmp_path: Path):
    with pytest.raises(ConversionError, match="3 sessions are too few for --split 0.8 0.1 0.1: the valid split would be empty"):
        sessions.convert_sessions(write_events(tmp_path / "e.csv", good_rows(3)), tmp_path / "out" / "x", COLUMNS)


def test_an_interrupted_conversion_says_so_in_one_line_and_leaves_nothing(tmp_path: Path, capsys):
    output = tmp_path / "out"
    before = signal.getsignal(signal.SIGTERM)

    def interrupted() -> dict:
        with atomic_output_dir(output, overwrite=False) as staging:
            (staging / "half.inter").write_text("x")
            os.kill(os.getpid(), signal.SIGTERM)
        return {}

    assert run_cli_conversion(interrupted, output) == 130
    assert capsys.readouterr().err.strip() == f"interrupted: nothing was written to {output}"
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_outside_a_conversion_keeps_its_own_handler():
    before = signal.getsignal(signal.SIGTERM)
    with terminate_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_stats_record_the_time_format(tmp_path: Path):
    rows = [(s, p, pd.Timestamp(t, unit="s").strftime("%Y%m%d%H%M%S")) for s, p, t in good_rows()]
    events = write_events(tmp_path / "e.csv", rows)
    stats = sessions.convert_sessions(events, tmp_path / "out" / "x", COLUMNS,
                                      times=sessions.TimeRule(format="%Y%m%d%H%M%S"))
    assert stats["time_format"] == "%Y%m%d%H%M%S" and stats["problems"]["counts"] == {}
    written = json.loads((tmp_path / "out" / "x" / "x.stats.json").read_text())
    assert written["order"]["tie_order"] == "random"
