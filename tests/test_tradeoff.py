"""The report's validation trade-off curve: points, seed means, the selected and the best-ranking point."""
import pytest

from recbole_semsr.benchmark.report import write_report
from recbole_semsr.benchmark.tradeoff import row_curve, tradeoff_csv, tradeoff_curves


def result(recall: float, mrr: float) -> dict[str, float]:
    return {"recall@100": recall, "mrr@20": mrr}


def trained_run(history: list[tuple[float, float]], best: int, seed: int) -> dict:
    return {"model": "NISER", "dataset": "toy", "seed": seed, "valid_history": [result(*h) for h in history],
            "best_valid_result": result(*history[best]), "test_result": result(*history[best])}


def test_trained_row_points_are_seed_means_of_each_validation_pass():
    runs = [trained_run([(0.30, 0.02), (0.40, 0.03), (0.38, 0.05)], best=1, seed=1),
            trained_run([(0.20, 0.04), (0.42, 0.05)], best=1, seed=2)]
    curve = row_curve("toy", "NISER", runs)
    assert curve.kind == "epoch"
    assert [point.step for point in curve.points] == [1.0, 2.0, 3.0]
    assert [point.retrieval for point in curve.points] == pytest.approx([0.25, 0.41, 0.38])
    assert [point.ranking for point in curve.points] == pytest.approx([0.03, 0.04, 0.05])
    assert [point.runs for point in curve.points] == [2, 2, 1]
    assert curve.selected == 1
    assert curve.best_ranking == 2


def test_hybrid_row_follows_its_weights_and_marks_the_chosen_one():
    by_weight = {"0.0": result(0.30, 0.06), "0.5": result(0.35, 0.07), "1.0": result(0.33, 0.08)}
    run = {"model": "A~B", "dataset": "toy", "seed": 1, "hybrid_valid_by_weight": by_weight, "hybrid_weight": 0.5,
           "valid_history": [result(0.1, 0.1), result(0.2, 0.2)], "best_valid_result": by_weight["0.5"]}
    curve = row_curve("toy", "A~B", [run])
    assert curve.kind == "weight"
    assert [point.step for point in curve.points] == [0.0, 0.5, 1.0]
    assert curve.selected == 1 and curve.best_ranking == 2


def test_rows_without_a_history_and_reranked_rows_are_one_point():
    knn = {"model": "VSTAN", "dataset": "toy", "seed": 1, "valid_history": [result(0.3, 0.06)],
           "best_valid_result": result(0.3, 0.06)}
    plus = {**trained_run([(0.1, 0.01), (0.2, 0.02)], best=1, seed=1), "model": "NISER+", "reranker": "x.pth",
            "best_valid_result": result(0.2, 0.04)}
    assert row_curve("toy", "VSTAN", [knn]).kind == "fixed"
    curve = row_curve("toy", "NISER+", [plus])
    assert curve.kind == "fixed" and curve.points[0].ranking == pytest.approx(0.04)


def test_rows_missing_a_metric_are_left_out():
    run = {"model": "X", "dataset": "toy", "seed": 1, "best_valid_result": {"recall@20": 0.1}}
    llm = {"model": "LLM", "dataset": "toy", "seed": 1, "test_result": result(0.1, 0.01)}
    assert tradeoff_curves({"toy": {"X": [run], "LLM": [llm]}}, ["X", "LLM"]) == []


def test_csv_marks_selected_and_best_ranking_points():
    curve = row_curve("toy", "NISER", [trained_run([(0.30, 0.02), (0.40, 0.03), (0.38, 0.05)], best=1, seed=1)])
    lines = tradeoff_csv([curve]).splitlines()
    assert lines[2] == "toy,NISER,epoch,2,0.400000,0.030000,1,yes,"
    assert lines[3] == "toy,NISER,epoch,3,0.380000,0.050000,1,,yes"


def test_report_writes_the_tradeoff_plot_table_and_csv(tmp_path):
    records = [trained_run([(0.30, 0.02), (0.40, 0.03), (0.38, 0.05)], best=1, seed=seed) for seed in (1, 2)]
    files = write_report(records, tmp_path)
    assert (tmp_path / "tradeoff_toy.png").stat().st_size > 0
    assert (tmp_path / "tradeoff.csv") in files.tables
    text = (tmp_path / "report.md").read_text()
    assert "| toy | NISER | pass 2 | 40.00 | 3.00 | pass 3 | 38.00 | 5.00 |" in text
