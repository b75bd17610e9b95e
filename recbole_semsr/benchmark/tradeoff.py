"""The validation trade-off between retrieval and ranking (by default Recall@100 against MRR@20) of each row.

A trained row gives one point per validation pass (its ``valid_history``), a hybrid ``X~R`` one point per fusion
weight it tried (``hybrid_valid_by_weight``), any other row the single point of its ``best_valid_result``. Rows with
several seeds use, per point, the mean over the seeds that reached it. The point the run selected (the best epoch,
the chosen weight) is marked, beside the point that maximises the ranking metric: where they differ, the selection
metric decides what the table reports (issue "select on what is reported", docs/tuning_and_benchmark.md).
"""
from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from typing import Any, Sequence

RETRIEVAL_METRIC = "recall@100"
RANKING_METRIC = "mrr@20"


@dataclass(frozen=True)
class TradeoffPoint:
    """One validation point of a row: ``step`` is the validation pass (1, 2, ...), the weight, or 0 for a row
    with one point; ``runs`` is how many seeds reached it."""

    step: float
    retrieval: float
    ranking: float
    runs: int


@dataclass(frozen=True)
class TradeoffCurve:
    """A row's validation points in order, the kind of step (``epoch``, ``weight`` or ``fixed``), and the point
    the runs selected (``selected``: index into ``points``)."""

    dataset: str
    model: str
    kind: str
    points: list[TradeoffPoint]
    selected: int

    @property
    def best_ranking(self) -> int:
        """Index of the point with the highest ranking metric (the first of equals)."""
        rankings = [point.ranking for point in self.points]
        return rankings.index(max(rankings))


def tradeoff_curves(groups: dict[str, dict[str, list[dict[str, Any]]]], models: Sequence[str],
                    retrieval: str = RETRIEVAL_METRIC, ranking: str = RANKING_METRIC) -> list[TradeoffCurve]:
    """One curve per (dataset, model) of ``groups`` (the report's records by dataset and model), in ``models``
    order; a row whose validation results lack either metric is left out."""
    curves = []
    for dataset, by_model in groups.items():
        for model in (name for name in models if name in by_model):
            curve = row_curve(dataset, model, by_model[model], retrieval, ranking)
            if curve is not None:
                curves.append(curve)
    return curves


def row_curve(dataset: str, model: str, runs: list[dict[str, Any]], retrieval: str = RETRIEVAL_METRIC,
              ranking: str = RANKING_METRIC) -> TradeoffCurve | None:
    """The validation curve of one row's runs (see the module docstring), or None without both metrics."""
    kind, steps, per_run = _row_points(runs)
    if not all(retrieval in result and ranking in result for results in per_run for result in results):
        return None
    points = []
    for index, step in enumerate(steps):
        reached = [points_of_run[index] for points_of_run in per_run if index < len(points_of_run)]
        points.append(TradeoffPoint(step, statistics.fmean(result[retrieval] for result in reached),
                                    statistics.fmean(result[ranking] for result in reached), len(reached)))
    return TradeoffCurve(dataset, model, kind, points, _selected_index(kind, steps, runs, retrieval, ranking))


def _row_points(runs: list[dict[str, Any]]) -> tuple[str, list[float], list[list[dict[str, float]]]]:
    """(kind, steps, the validation results of each run along the steps)."""
    if all(run.get("hybrid_valid_by_weight") for run in runs):
        weights = sorted({float(weight) for run in runs for weight in run["hybrid_valid_by_weight"]})
        per_run = [[run["hybrid_valid_by_weight"][_weight_key(run, weight)] for weight in weights] for run in runs]
        return "weight", weights, per_run
    passes = max((len(run.get("valid_history") or []) for run in runs), default=0)
    if passes > 1 and all(run.get("valid_history") for run in runs) and not any(run.get("reranker") for run in runs):
        return "epoch", [float(step) for step in range(1, passes + 1)], [run["valid_history"] for run in runs]
    return "fixed", [0.0], [[run.get("best_valid_result") or {}] for run in runs]


def _weight_key(run: dict[str, Any], weight: float) -> str:
    for key in run["hybrid_valid_by_weight"]:
        if float(key) == weight:
            return key
    raise ValueError(f"{run.get('model')} seed {run.get('seed')}: no validation result at hybrid weight {weight}")


def _selected_index(kind: str, steps: list[float], runs: list[dict[str, Any]], retrieval: str,
                    ranking: str) -> int:
    """The step most runs selected: the chosen weight, or the validation pass whose result is the run's
    ``best_valid_result`` (the best epoch RecBole kept)."""
    if kind == "fixed":
        return 0
    if kind == "weight":
        chosen = [steps.index(float(run["hybrid_weight"])) for run in runs]
    else:
        chosen = [_best_pass(run, retrieval, ranking) for run in runs]
    return statistics.mode(chosen)


def _best_pass(run: dict[str, Any], retrieval: str, ranking: str) -> int:
    best = run["best_valid_result"]
    for index, result in enumerate(run["valid_history"]):
        if result.get(retrieval) == best.get(retrieval) and result.get(ranking) == best.get(ranking):
            return index
    return len(run["valid_history"]) - 1


def tradeoff_csv(curves: list[TradeoffCurve], retrieval: str = RETRIEVAL_METRIC,
                 ranking: str = RANKING_METRIC) -> str:
    """Every point of every curve, with whether the runs selected it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["dataset", "model", "kind", "step", f"valid {retrieval}", f"valid {ranking}", "runs",
                     "selected", f"best valid {ranking}"])
    for curve in curves:
        for index, point in enumerate(curve.points):
            writer.writerow([curve.dataset, curve.model, curve.kind, f"{point.step:g}", f"{point.retrieval:.6f}",
                             f"{point.ranking:.6f}", point.runs, "yes" if index == curve.selected else "",
                             "yes" if index == curve.best_ranking else ""])
    return out.getvalue()


def markdown_tradeoff_table(curves: list[TradeoffCurve], retrieval: str = RETRIEVAL_METRIC,
                            ranking: str = RANKING_METRIC) -> str:
    """Per row: the selected point, and the point with the best ranking metric (validation, percent)."""
    r, m = retrieval.replace("recall", "R"), ranking.replace("mrr", "MRR")
    lines = [f"| dataset | model | selected | {r} | {m} | best {m} at | {r} | {m} |",
             "| --- | --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for curve in curves:
        chosen, best = curve.points[curve.selected], curve.points[curve.best_ranking]
        lines.append(f"| {curve.dataset} | {curve.model} | {step_label(curve.kind, chosen)} | "
                     f"{100 * chosen.retrieval:.2f} | {100 * chosen.ranking:.2f} | {step_label(curve.kind, best)} | "
                     f"{100 * best.retrieval:.2f} | {100 * best.ranking:.2f} |")
    return "\n".join(lines) + "\n"


def step_label(kind: str, point: TradeoffPoint) -> str:
    """``pass 3`` (validation pass), ``w 0.4`` (hybrid weight) or ``-`` (a row with one point)."""
    return {"epoch": f"pass {point.step:g}", "weight": f"w {point.step:g}", "fixed": "-"}[kind]


def tradeoff_figure(curves: list[TradeoffCurve], dataset: str, retrieval: str = RETRIEVAL_METRIC,
                    ranking: str = RANKING_METRIC):
    """Validation ranking against retrieval for the dataset's rows: a line per trained or hybrid row (its
    passes or weights), a dot per other row; a star on each selected point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 5.5))
    rows = [curve for curve in curves if curve.dataset == dataset]
    colours = plt.get_cmap("tab20")
    for number, curve in enumerate(rows):
        xs = [100 * point.retrieval for point in curve.points]
        ys = [100 * point.ranking for point in curve.points]
        colour = colours(number % colours.N)
        axis.plot(xs, ys, marker=".", markersize=4, linewidth=1.2, color=colour,
                  label=f"{curve.model} ({curve.kind})")
        axis.plot([xs[curve.selected]], [ys[curve.selected]], marker="*", markersize=13, color=colour)
    axis.set_xlabel(f"validation {retrieval} (%)")
    axis.set_ylabel(f"validation {ranking} (%)")
    axis.set_title(f"{dataset}: {retrieval} / {ranking} trade-off (star: the selected epoch or weight)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    return figure
