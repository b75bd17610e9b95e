"""Benchmark reports on hand-made results: Table 2 values, bolding, CSV, and the Recall@K plot."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from recbole_semsr.benchmark.report import csv_table, markdown_table, recall_curve_figure, summarise, write_report

KS = (50, 100, 200, 300, 400, 500)


def record(model: str, dataset: str, r20: float, m20: float, r100: float, m100: float, seconds: float | None,
           curve: tuple[float, ...] | None = None) -> dict[str, Any]:
    test = {"recall@20": r20, "mrr@20": m20, "recall@100": r100, "mrr@100": m100}
    if curve:
        test.update({f"recall@{k}": value for k, value in zip(KS, curve)})
    return {"model": model, "dataset": dataset, "test_result": test, "seconds_per_epoch": seconds}


# NISER: two seeds (R@20 20% and 22% -> 21.00 ± 1.41); NARM: one seed. Best: R@20 NISER, MRR@20 NARM,
# R@100 tie (both bold), MRR@100 NISER. The LLM row (extra result) has no seconds and no curve.
RECORDS = [
    record("NISER", "beauty", 0.20, 0.06, 0.38, 0.070, 40.0, (0.30, 0.38, 0.45, 0.50, 0.53, 0.55)),
    record("NISER", "beauty", 0.22, 0.07, 0.38, 0.074, 44.0, (0.32, 0.38, 0.47, 0.52, 0.55, 0.57)),
    record("NARM", "beauty", 0.16, 0.08, 0.38, 0.050, 56.0, (0.25, 0.38, 0.40, 0.42, 0.44, 0.45)),
    record("FS-LLM", "beauty", 0.07, 0.019, 0.1448, 0.0207, None),
]


def test_summary_means_and_sample_std_in_fractions() -> None:
    niser = summarise(RECORDS)["beauty"]["NISER"]
    assert niser.runs == 2
    assert abs(niser.mean["recall@20"] - 0.21) < 1e-12
    assert abs(niser.std["recall@20"] - 0.0141421356) < 1e-9
    assert niser.seconds_per_epoch == 42.0


def test_markdown_table_layout_values_and_bold() -> None:
    summaries = summarise(RECORDS)
    lines = markdown_table(summaries, ["NARM", "NISER", "FS-LLM"]).splitlines()
    assert lines[0] == ("| Model | beauty R@20 | beauty MRR@20 | beauty R@100 | beauty MRR@100 | beauty s/epoch |")
    assert lines[1] == "|---|---:|---:|---:|---:|---:|"
    assert lines[2] == "| NARM | 16.00 | **8.00** | **38.00** | 5.00 | 56.0 |"
    assert lines[3] == "| NISER | **21.00 ± 1.41** | 6.50 ± 0.71 | **38.00 ± 0.00** | **7.20 ± 0.28** | 42.0 |"
    assert lines[4] == "| FS-LLM | 7.00 | 1.90 | 14.48 | 2.07 | - |"


def test_datasets_side_by_side_and_missing_cells() -> None:
    records = RECORDS[:3] + [record("NISER", "kdd_m2_uk", 0.4984, 0.2645, 0.6177, 0.2676, 100.0)]
    lines = markdown_table(summarise(records), ["NISER", "NARM"]).splitlines()
    assert lines[0].endswith(
        "| kdd_m2_uk R@20 | kdd_m2_uk MRR@20 | kdd_m2_uk R@100 | kdd_m2_uk MRR@100 | kdd_m2_uk s/epoch |"
    )
    assert lines[2].endswith("| **49.84** | **26.45** | **61.77** | **26.76** | 100.0 |")
    assert lines[3].endswith("| - | - | - | - | - |")


def test_csv_has_mean_std_seconds_and_runs() -> None:
    rows = list(csv.reader(io.StringIO(csv_table(summarise(RECORDS), ["NISER", "NARM", "FS-LLM"]))))
    assert rows[0][:3] == ["model", "beauty R@20", "beauty R@20 std"]
    assert rows[0][-2:] == ["beauty s/epoch", "beauty runs"]
    assert rows[1] == ["NISER", "21.0000", "1.4142", "6.5000", "0.7071", "38.0000", "0.0000", "7.2000", "0.2828",
                       "42.00", "2"]
    assert rows[3][-2:] == ["", "1"]


def test_recall_curve_has_one_line_per_model_with_the_curve() -> None:
    by_model = summarise(RECORDS)["beauty"]
    figure, left_out = recall_curve_figure(by_model, "beauty", ["NISER", "NARM", "FS-LLM"])
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["NISER", "NARM"]
    assert list(lines[0].get_xdata()) == list(KS)
    assert [round(y, 6) for y in lines[0].get_ydata()] == [31.0, 38.0, 46.0, 51.0, 54.0, 56.0]
    assert [round(y, 6) for y in lines[1].get_ydata()] == [25.0, 38.0, 40.0, 42.0, 44.0, 45.0]
    assert left_out == ["FS-LLM"]


def test_write_report_files(tmp_path: Path) -> None:
    files = write_report(RECORDS, tmp_path, models=["NISER"], header="# Beauty\n\nCommand: `x`")
    text = files.markdown.read_text()
    assert text.startswith("# Beauty\n\nCommand: `x`\n\n")
    assert "| NISER | **21.00 ± 1.41** |" in text and "| FS-LLM | 7.00 |" in text
    assert "Runs per model: beauty: NISER 2, NARM 1, FS-LLM 1." in text
    assert "![Recall@K](recall_at_k_beauty.png)" in text
    assert files.notes == ["beauty: FS-LLM left out of the Recall@K plot (needs recall@50..recall@500)"]
    png = files.plots[0].read_bytes()
    assert files.plots == [tmp_path / "recall_at_k_beauty.png"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert files.csv.read_text().startswith("model,beauty R@20,")
