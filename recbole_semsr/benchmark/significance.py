"""Paired significance of a report's cells: every row against a reference row, over the test samples.

* Per-sample metric of a column, from the stored ranks (`recbole_semsr.sample_ranks`): hit (Recall@K, HitRate@K),
  reciprocal rank (MRR@K), 1 / log2(1 + rank) (NDCG@K), 0 when the target is not in the top K. A row with several
  seeds uses, per sample, the mean over its seeds.
* Test: two-sided paired randomization (sign-flip) test of the mean difference row - reference: under the null
  hypothesis the two rows are exchangeable on each sample, so each sample's difference keeps or flips its sign with
  probability 1/2. ``resamples`` seeded draws, p = (1 + #{|T*| >= |T|}) / (1 + resamples).
* Holm's step-down correction over every comparison of the report (all datasets, columns and rows), then
  significant when the corrected p < ``alpha``.
* Rows are only compared on the same test targets (``targets_sha256``); a row without usable ranks gets no mark and
  a note says why.
"""
from __future__ import annotations

import binascii
import csv
import io
import zlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from recbole_semsr.sample_ranks import ranks_at

DEFAULT_BASELINES = ("POP", "SR", "VSKNN", "STAN", "VSTAN")
TESTED_METRICS = ("recall@20", "mrr@20", "recall@100", "mrr@100", "ndcg@20", "ndcg@100")
SAME_TEST = {"hit": "recall"}
"""HitRate@K is Recall@K (one target per sample): its cells carry Recall@K's test, counted once."""

BETTER, WORSE, REFERENCE = "▲", "▼", "(ref)"
_CHUNK_CELLS = 1 << 22  # sign draws per chunk of the randomization (32 MiB of float64)


@dataclass(frozen=True)
class ComparisonSettings:
    """How the report tests its cells: the reference row, the test's size and seed, and the level."""

    reference: str = "auto"
    baselines: tuple[str, ...] = DEFAULT_BASELINES
    alpha: float = 0.05
    resamples: int = 10_000
    seed: int = 2025

    def describe_reference(self) -> str:
        if self.reference != "auto":
            return f"the row {self.reference}"
        return f"per column the best of the baseline rows {', '.join(self.baselines)}"


class UnusableRanks(ValueError):
    """A row's runs cannot give per-sample values (no ranks stored, different targets, a K not stored)."""


@dataclass
class SampleValues:
    """One row's per-sample metric on one dataset: the mean over its seeds, and the targets they were computed on."""

    values: np.ndarray
    targets_sha256: str


def sample_metric(ranks: np.ndarray, kind: str) -> np.ndarray:
    """Per-sample ``recall``/``hit``, ``mrr`` or ``ndcg`` from 1-based ranks inside the top K (0 = absent)."""
    found = ranks > 0
    safe = np.maximum(ranks, 1)
    if kind in ("recall", "hit"):
        return found.astype(np.float64)
    if kind == "mrr":
        return np.where(found, 1.0 / safe, 0.0)
    if kind == "ndcg":
        return np.where(found, 1.0 / np.log2(safe + 1.0), 0.0)
    raise ValueError(f"no per-sample form of {kind!r} (expected recall, hit, mrr or ndcg)")


def row_sample_values(runs: list[dict[str, Any]], metric: str) -> SampleValues:
    """The per-sample ``metric`` (e.g. ``mrr@20``) of a row, averaged over its runs; UnusableRanks says why not."""
    kind, k = metric.split("@")
    missing = sum(1 for run in runs if not isinstance(run.get("test_ranks"), dict))
    if missing:
        raise UnusableRanks(f"{missing} of its {len(runs)} run(s) store no per-sample ranks (older runs)")
    hashes = {run["test_ranks"].get("targets_sha256") for run in runs}
    if None in hashes:
        raise UnusableRanks("its stored ranks name no test targets (no targets_sha256)")
    if len(hashes) > 1:
        raise UnusableRanks("its seeds were evaluated on different test targets (targets_sha256 differ)")
    try:
        per_run = [sample_metric(ranks_at(run["test_ranks"], int(k)), kind) for run in runs]
    except (ValueError, KeyError, TypeError, zlib.error, binascii.Error) as error:
        raise UnusableRanks(f"its stored ranks cannot be used for {metric} ({error})") from error
    if len({len(values) for values in per_run}) > 1:
        raise UnusableRanks("its seeds store different numbers of test samples")
    return SampleValues(np.mean(per_run, axis=0), hashes.pop())


def randomization_pvalues(differences: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Two-sided paired sign-flip p-value of each column of ``differences`` [n_samples, n_tests].

    The same seeded sign draws serve every column; p = (1 + #{|sum(s * d)| >= |sum(d)|}) / (1 + resamples).
    """
    differences = np.asarray(differences, dtype=np.float64)
    n_samples = differences.shape[0]
    observed = np.abs(differences.sum(axis=0))
    threshold = observed - 1e-9 * (1.0 + observed)  # sums of floats: equal statistics must count as reached
    reached = np.zeros(differences.shape[1], dtype=np.int64)
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // max(n_samples, 1))
    for start in range(0, resamples, chunk):
        draws = min(chunk, resamples - start)
        signs = rng.integers(0, 2, size=(draws, n_samples), dtype=np.int8).astype(np.float64) * 2.0 - 1.0
        reached += (np.abs(signs @ differences) >= threshold).sum(axis=0)
    return (1.0 + reached) / (1.0 + resamples)


def holm_adjust(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given): max over j <= i of (m - j) * p_(j), capped at 1."""
    pvalues = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(pvalues, kind="stable")
    scaled = pvalues[order] * (len(pvalues) - np.arange(len(pvalues)))
    adjusted = np.empty_like(pvalues)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


@dataclass
class Comparison:
    """One cell against its column's reference: the difference of means (row - reference) and its p-values."""

    dataset: str
    metric: str
    model: str
    reference: str
    difference: float
    p_value: float
    p_holm: float = 1.0


@dataclass
class Significance:
    """Every comparison of a report, the reference of each column, and the notes on what was not compared."""

    settings: ComparisonSettings
    comparisons: dict[tuple[str, str, str], Comparison] = field(default_factory=dict)
    references: dict[tuple[str, str], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def mark(self, dataset: str, metric: str, model: str) -> str:
        """``▲`` / ``▼`` for a significant gain / loss against the reference, ``(ref)`` on the reference itself."""
        kind, k = metric.split("@")
        metric = f"{SAME_TEST.get(kind, kind)}@{k}"
        if self.references.get((dataset, metric)) == model:
            return REFERENCE
        comparison = self.comparisons.get((dataset, metric, model))
        if comparison is None or comparison.p_holm >= self.settings.alpha:
            return ""
        return BETTER if comparison.difference > 0 else WORSE

    def csv(self) -> str:
        """One line per comparison: the difference in percent points, the raw and the Holm-corrected p-value."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["dataset", "metric", "model", "reference", "difference (points)", "p", "p (Holm)",
                         f"significant at {self.settings.alpha}"])
        for c in self.comparisons.values():
            writer.writerow([c.dataset, c.metric, c.model, c.reference, f"{100 * c.difference:.4f}",
                             f"{c.p_value:.6g}", f"{c.p_holm:.6g}", "yes" if c.p_holm < self.settings.alpha else "no"])
        return buffer.getvalue()


def compare_rows(groups: dict[str, dict[str, list[dict[str, Any]]]], settings: ComparisonSettings,
                 metrics: Sequence[str] = TESTED_METRICS) -> Significance:
    """Test every row of every dataset (``groups``: dataset -> model -> runs) against its column's reference."""
    result = Significance(settings)
    cells: list[tuple[Comparison, np.ndarray]] = []
    for dataset, by_model in groups.items():
        unusable: dict[tuple[str, str], list[str]] = {}
        unreferenced = []
        for metric in metrics:
            values = _usable_rows(by_model, metric, unusable)
            reference = _pick_reference(values, settings)
            if reference is None:
                unreferenced.append(metric)
                continue
            result.references[(dataset, metric)] = reference
            cells += _cells_against(dataset, metric, reference, values, result.notes)
        result.notes += _unusable_notes(dataset, unusable, metrics)
        if unreferenced:
            result.notes.append(f"{dataset}: no significance marks on {', '.join(unreferenced)}: no reference "
                                f"({settings.describe_reference()}) with usable ranks")
    _test(cells, settings)
    result.comparisons = {(c.dataset, c.metric, c.model): c for c, _ in cells}
    return result


def _usable_rows(by_model: dict[str, list[dict[str, Any]]], metric: str,
                 unusable: dict[tuple[str, str], list[str]]) -> dict[str, SampleValues]:
    values = {}
    for model, runs in by_model.items():
        try:
            values[model] = row_sample_values(runs, metric)
        except UnusableRanks as reason:
            unusable.setdefault((model, str(reason)), []).append(metric)
    return values


def _unusable_notes(dataset: str, unusable: dict[tuple[str, str], list[str]], metrics: Sequence[str]) -> list[str]:
    notes = []
    for (model, reason), missed in unusable.items():
        where = "" if len(missed) == len(metrics) else f" on {', '.join(missed)}"
        notes.append(f"{dataset}: {model} has no significance marks{where}: {reason}")
    return notes


def _pick_reference(values: dict[str, SampleValues], settings: ComparisonSettings) -> str | None:
    if settings.reference != "auto":
        return settings.reference if settings.reference in values else None
    candidates = [model for model in settings.baselines if model in values]
    return max(candidates, key=lambda model: values[model].values.mean(), default=None)


def _cells_against(dataset: str, metric: str, reference: str, values: dict[str, SampleValues],
                   notes: list[str]) -> list[tuple[Comparison, np.ndarray]]:
    base = values[reference]
    cells = []
    for model, row in values.items():
        if model == reference:
            continue
        if row.targets_sha256 != base.targets_sha256 or len(row.values) != len(base.values):
            notes.append(f"{dataset}: {model} not compared with {reference} on {metric}: different test data "
                         f"(targets_sha256 {row.targets_sha256[:12]}... vs {base.targets_sha256[:12]}...)")
            continue
        difference = row.values - base.values
        cells.append((Comparison(dataset, metric, model, reference, float(difference.mean()), 1.0), difference))
    return cells


def _test(cells: list[tuple[Comparison, np.ndarray]], settings: ComparisonSettings) -> None:
    """p-values (one sign draw shared by all comparisons on the same number of samples), then Holm over all."""
    by_length: dict[int, list[int]] = {}
    for index, (_, difference) in enumerate(cells):
        by_length.setdefault(len(difference), []).append(index)
    for indices in by_length.values():
        matrix = np.stack([cells[index][1] for index in indices], axis=1)
        for index, p_value in zip(indices, randomization_pvalues(matrix, settings.resamples, settings.seed)):
            cells[index][0].p_value = float(p_value)
    for (comparison, _), adjusted in zip(cells, holm_adjust([c.p_value for c, _ in cells])):
        comparison.p_holm = float(adjusted)
