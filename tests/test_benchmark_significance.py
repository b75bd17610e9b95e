"""Paired significance of report cells: per-sample metrics, the sign-flip test against exact enumeration, Holm's
correction, seeds averaged per sample, refused comparisons, and the marks in a report end to end."""
from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recbole_semsr.benchmark.__main__ import main
from recbole_semsr.benchmark.report import write_report
from recbole_semsr.benchmark.significance import (
    ComparisonSettings,
    compare_rows,
    holm_adjust,
    randomization_pvalues,
    row_sample_values,
    sample_metric,
)
from recbole_semsr.benchmark.store import ResultsStore
from recbole_semsr.sample_ranks import stored_full_ranks, stored_ranks_at_k, targets_sha256

HASH = targets_sha256(f"item{i}" for i in range(400))
OTHER_HASH = targets_sha256(["another", "test", "file"])


def ranked_record(model: str, ranks: np.ndarray, seed: int = 2025, targets_hash: str = HASH) -> dict[str, Any]:
    """A result record whose test metrics are those of its stored full ranks."""
    test = {}
    for k in (20, 100):
        top = np.where(ranks <= k, ranks, 0)
        test.update({f"recall@{k}": float((top > 0).mean()), f"mrr@{k}": float(sample_metric(top, "mrr").mean()),
                     f"ndcg@{k}": float(sample_metric(top, "ndcg").mean()), f"hit@{k}": float((top > 0).mean())})
    return {"model": model, "dataset": "toy", "seed": seed, "test_result": test,
            "test_ranks": stored_full_ranks(ranks, targets_hash)}


def test_sample_metric_by_hand() -> None:
    ranks = np.array([0, 1, 2, 4])
    assert sample_metric(ranks, "recall").tolist() == [0.0, 1.0, 1.0, 1.0]
    assert sample_metric(ranks, "mrr").tolist() == [0.0, 1.0, 0.5, 0.25]
    assert sample_metric(ranks, "ndcg") == pytest.approx([0.0, 1.0, 1 / np.log2(3), 1 / np.log2(5)])


def test_sign_flip_pvalue_of_hand_computed_cases() -> None:
    # d = (1, 2, 3): the 8 sign patterns give sums 6, 4, 2, 0, 0, -2, -4, -6; |sum| >= 6 in 2 of 8: p = 0.25.
    # d = (1, 1, 1, 1, 1): |sum| >= 5 only with all signs equal: p = 2 / 32 = 0.0625.
    # d = (0.5, -0.5): every pattern reaches |sum| >= 0: p = 1.
    differences = np.zeros((5, 3))
    differences[:3, 0] = [1, 2, 3]
    differences[:, 1] = 1
    differences[:2, 2] = [0.5, -0.5]
    p = randomization_pvalues(differences, resamples=20_000, seed=1)
    assert p[0] == pytest.approx(0.25, abs=0.01)  # Monte Carlo: standard error 0.003
    assert p[1] == pytest.approx(0.0625, abs=0.006)
    assert p[2] == 1.0


def test_sign_flip_pvalue_equals_exact_enumeration_of_float_differences() -> None:
    differences = np.array([0.5, -0.2, 1.0, 0.75, 0.1, 0.3, -0.4, 0.6, 1 / 3, 0.25])
    observed = abs(differences.sum())
    sums = [abs(np.dot(signs, differences)) for signs in itertools.product((-1, 1), repeat=len(differences))]
    exact = sum(total >= observed - 1e-12 for total in sums) / len(sums)  # 46 of 1024
    p = randomization_pvalues(differences[:, None], resamples=40_000, seed=7)[0]
    assert exact == pytest.approx(46 / 1024)
    assert p == pytest.approx(exact, abs=0.004)


def test_sign_flip_pvalue_floor_and_seeding() -> None:
    always_better = np.ones((200, 1))
    assert randomization_pvalues(always_better, resamples=999, seed=3)[0] == pytest.approx(1 / 1000)
    noisy = np.random.default_rng(0).normal(0.05, 1.0, size=(300, 4))
    first = randomization_pvalues(noisy, resamples=2000, seed=5)
    assert np.array_equal(first, randomization_pvalues(noisy, resamples=2000, seed=5))
    assert not np.array_equal(first, randomization_pvalues(noisy, resamples=2000, seed=6))


def test_holm_adjusted_pvalues_by_hand() -> None:
    # sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, then 0.04 * 1 = 0.04 raised to the running max 0.06
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.6, 0.5]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]).size == 0


def test_row_values_are_the_per_sample_mean_over_seeds() -> None:
    runs = [ranked_record("NISER", np.array([1, 30, 2, 150])), ranked_record("NISER", np.array([2, 1, 2, 150]), 2026)]
    assert row_sample_values(runs, "mrr@20").values.tolist() == [0.75, 0.5, 0.5, 0.0]
    assert row_sample_values(runs, "recall@100").values.tolist() == [1.0, 1.0, 1.0, 0.0]


def test_plus_row_ranks_are_read_at_their_stored_k_only() -> None:
    plus = {"model": "NISER+", "dataset": "toy", "test_result": {},
            "test_ranks": stored_ranks_at_k({20: np.array([3, 0])}, HASH)}
    assert row_sample_values([plus], "mrr@20").values.tolist() == [1 / 3, 0.0]
    with pytest.raises(ValueError, match="stored at K = 20 only"):
        row_sample_values([plus], "mrr@100")


RNG = np.random.default_rng(11)
BASE = RNG.integers(1, 60, size=400)                       # STAN: R@20 about a third
BETTER_RANKS = np.where(RNG.random(400) < 0.5, 1, BASE)     # half the samples moved to rank 1: much better
BETTER_SEED2 = np.where(RNG.random(400) < 0.5, 1, BASE)
CLOSE_RANKS = BASE.copy()
CLOSE_RANKS[:3] = 1                                         # three samples moved up: not significant
WORSE_RANKS = BASE + 40                                     # every target 40 places lower


def toy_records() -> list[dict[str, Any]]:
    return [
        ranked_record("POP", BASE + 80),
        ranked_record("STAN", BASE),
        ranked_record("NISER", BETTER_RANKS),
        ranked_record("NISER", BETTER_SEED2, seed=2026),
        ranked_record("NARM", CLOSE_RANKS),
        ranked_record("GRU4Rec", WORSE_RANKS),
        {"model": "OLD", "dataset": "toy", "test_result": {"recall@20": 0.3, "mrr@20": 0.1}},
        ranked_record("ELSEWHERE", BASE, targets_hash=OTHER_HASH),
    ]


def grouped(records: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in records:
        groups.setdefault(record["dataset"], {}).setdefault(record["model"], []).append(record)
    return groups


def test_auto_reference_is_the_best_baseline_and_refusals_are_noted() -> None:
    significance = compare_rows(grouped(toy_records()), ComparisonSettings(resamples=2000))
    assert set(significance.references.values()) == {"STAN"}
    assert significance.mark("toy", "mrr@20", "STAN") == "(ref)"
    assert significance.mark("toy", "mrr@20", "NISER") == "▲"
    assert significance.mark("toy", "hit@20", "NISER") == significance.mark("toy", "recall@20", "NISER") == "▲"
    assert significance.mark("toy", "mrr@20", "GRU4Rec") == "▼"
    assert significance.mark("toy", "mrr@20", "NARM") == ""
    assert significance.mark("toy", "mrr@20", "OLD") == ""
    assert ("toy", "mrr@20", "ELSEWHERE") not in significance.comparisons
    assert "toy: OLD has no significance marks: 1 of its 1 run(s) store no per-sample ranks (older runs)" \
        in significance.notes
    assert any(note.startswith("toy: ELSEWHERE not compared with STAN on recall@20: different test data")
               for note in significance.notes)
    # 4 compared rows (POP, NISER, NARM, GRU4Rec) x 6 tested columns, all in one Holm family
    assert len(significance.comparisons) == 24
    narm = significance.comparisons[("toy", "recall@20", "NARM")]
    assert narm.difference == pytest.approx(np.mean((CLOSE_RANKS <= 20) & ~(BASE <= 20)))


def test_named_reference_row() -> None:
    significance = compare_rows(grouped(toy_records()), ComparisonSettings(reference="NARM", resamples=2000))
    assert significance.mark("toy", "mrr@20", "NARM") == "(ref)"
    assert significance.mark("toy", "mrr@20", "STAN") == ""
    assert significance.mark("toy", "mrr@20", "POP") == "▼"


def test_report_marks_cells_and_writes_pvalues(tmp_path: Path) -> None:
    files = write_report(toy_records(), tmp_path, comparison=ComparisonSettings(resamples=2000))
    lines = files.markdown.read_text().split("## More metrics")[0].splitlines()
    row = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ") and "---" not in line}
    stan_r20 = 100 * np.mean(BASE <= 20)
    assert row["STAN"].startswith(f"| STAN | {stan_r20:.2f} (ref) |")
    assert row["NISER"].split(" | ")[1].endswith("▲") and row["GRU4Rec"].split(" | ")[1].endswith("▼")
    assert "▲" not in row["NARM"] and "▼" not in row["NARM"] and "▲" not in row["OLD"]
    assert "Holm-corrected over the report's 24 comparisons, alpha 0.05" in files.markdown.read_text()
    table = list(csv.DictReader(io.StringIO((tmp_path / "significance.csv").read_text())))
    assert len(table) == 24
    niser = next(r for r in table if r["model"] == "NISER" and r["metric"] == "mrr@20")
    assert niser["reference"] == "STAN" and niser["significant at 0.05"] == "yes"
    assert float(niser["p (Holm)"]) <= 24 / 2001


def test_cli_report_only_with_a_named_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ResultsStore(tmp_path)
    for record in toy_records()[:3]:
        store.save(record, record["model"], record["dataset"], record["seed"])
    assert main(["--output", str(tmp_path), "--report_only", "--reference=POP", "--significance_resamples=500"]) == 0
    out = capsys.readouterr().out
    assert "| POP | " in out and "(ref)" in out.split("| POP | ")[1].split("\n")[0]
    assert "▲" in out.split("| STAN | ")[1].split("\n")[0]
    assert "note: no breakdowns: --data_path not given" in out
