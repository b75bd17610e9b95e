"""Benchmark reports: the paper's Table 2 layout (Markdown and CSV), its Figure 3 (Recall@K against K), a table of
more metrics, significance marks (`significance.py`) and breakdowns by prefix length and popularity (`breakdown.py`).

Test metrics in percent (average popularity: as is), mean ± sample standard deviation over seeds, best mean per
column in bold (ties: all), seconds per training epoch beside each dataset's metrics.
"""
from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from recbole_semsr.benchmark.breakdown import BucketTable, breakdown_csv, breakdown_dataset, breakdown_figure
from recbole_semsr.benchmark.breakdown import markdown_bucket_table
from recbole_semsr.benchmark.significance import BETTER, REFERENCE, WORSE, ComparisonSettings, Significance
from recbole_semsr.benchmark.significance import compare_rows
from recbole_semsr.benchmark.tradeoff import TradeoffCurve, markdown_tradeoff_table, tradeoff_csv, tradeoff_curves
from recbole_semsr.benchmark.tradeoff import tradeoff_figure

TABLE_METRICS = (("recall@20", "R@20"), ("mrr@20", "MRR@20"), ("recall@100", "R@100"), ("mrr@100", "MRR@100"))
MORE_METRICS = (("ndcg@20", "NDCG@20"), ("ndcg@100", "NDCG@100"), ("hit@20", "HitRate@20"), ("hit@100", "HitRate@100"),
                ("coverage@20", "Cov@20"), ("coverage@100", "Cov@100"),
                ("averagepopularity@20", "AvgPop@20"), ("averagepopularity@100", "AvgPop@100"))
UNSCALED = ("averagepopularity@",)
"""Metrics shown as they are (a mean count of training samples), not in percent, and never bold (no better side)."""
CURVE_KS = (50, 100, 200, 300, 400, 500)


@dataclass
class Summary:
    """One model on one dataset over its runs: mean and std of every test metric all runs have."""

    model: str
    dataset: str
    runs: int
    mean: dict[str, float]
    std: dict[str, float]
    seconds_per_epoch: float | None


def group_records(records: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Result records by dataset, then model, both in first-seen order."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in records:
        groups.setdefault(str(record["dataset"]), {}).setdefault(str(record["model"]), []).append(record)
    return groups


def summarise(records: list[dict[str, Any]]) -> dict[str, dict[str, Summary]]:
    """Group result records by dataset, then model (first-seen order), and average their test metrics."""
    return {
        dataset: {model: _summary(model, dataset, runs) for model, runs in by_model.items()}
        for dataset, by_model in group_records(records).items()
    }


def _summary(model: str, dataset: str, runs: list[dict[str, Any]]) -> Summary:
    shared = set.intersection(*(set(run["test_result"]) for run in runs))
    values = {metric: [float(run["test_result"][metric]) for run in runs] for metric in sorted(shared)}
    seconds = [float(run["seconds_per_epoch"]) for run in runs if run.get("seconds_per_epoch") is not None]
    return Summary(
        model=model,
        dataset=dataset,
        runs=len(runs),
        mean={metric: statistics.fmean(series) for metric, series in values.items()},
        std={metric: statistics.stdev(series) if len(series) > 1 else 0.0 for metric, series in values.items()},
        seconds_per_epoch=statistics.fmean(seconds) if seconds else None,
    )


def ordered_models(summaries: dict[str, dict[str, Summary]], preferred: list[str] | None = None) -> list[str]:
    """``preferred`` first (those present), then every other model in first-seen order."""
    seen = [model for by_model in summaries.values() for model in by_model]
    first = [model for model in (preferred or []) if model in seen]
    return list(dict.fromkeys(first + seen))


def _scale(metric: str) -> float:
    return 1.0 if metric.startswith(UNSCALED) else 100.0


def best_models(by_model: dict[str, Summary], metric: str) -> set[str]:
    """Models whose mean (as printed, with 2 decimals) is the highest in this column (none for UNSCALED ones)."""
    shown = {model: round(_scale(metric) * s.mean[metric], 2) for model, s in by_model.items() if metric in s.mean}
    if not shown or metric.startswith(UNSCALED):
        return set()
    top = max(shown.values())
    return {model for model, value in shown.items() if value == top}


def format_cell(summary: Summary | None, metric: str) -> str:
    """``20.84 ± 0.12`` in percent (just the mean for one run); ``-`` when the metric is missing."""
    if summary is None or metric not in summary.mean:
        return "-"
    scale = _scale(metric)
    mean = f"{scale * summary.mean[metric]:.2f}"
    return mean if summary.runs == 1 else f"{mean} ± {scale * summary.std[metric]:.2f}"


def format_seconds(summary: Summary | None) -> str:
    return "-" if summary is None or summary.seconds_per_epoch is None else f"{summary.seconds_per_epoch:.1f}"


def markdown_table(summaries: dict[str, dict[str, Summary]], models: list[str],
                   metrics: Sequence[tuple[str, str]] = TABLE_METRICS, significance: Significance | None = None,
                   seconds: bool = True) -> str:
    """Table 2 layout: one row per model, each dataset's R@20, MRR@20, R@100, MRR@100 and s/epoch side by side
    (other ``metrics``, without the seconds, for the table of more metrics); ``significance`` adds its marks."""
    header = ["Model"]
    for dataset in summaries:
        header += [f"{dataset} {label}" for _, label in metrics] + ([f"{dataset} s/epoch"] if seconds else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    bold = {(dataset, metric): best_models(by_model, metric)
            for dataset, by_model in summaries.items() for metric, _ in metrics}
    for model in models:
        cells = [model]
        for dataset, by_model in summaries.items():
            summary = by_model.get(model)
            for metric, _ in metrics:
                cell = format_cell(summary, metric)
                cell = f"**{cell}**" if model in bold[(dataset, metric)] else cell
                shown = significance and summary and metric in summary.mean
                mark = significance.mark(dataset, metric, model) if shown else ""
                cells.append(f"{cell} {mark}" if mark else cell)
            cells += [format_seconds(summary)] if seconds else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_table(summaries: dict[str, dict[str, Summary]], models: list[str],
              metrics: Sequence[tuple[str, str]] = TABLE_METRICS) -> str:
    """Same layout as the Markdown table, with separate mean and std columns (percent, but average popularity) and
    the number of runs."""
    header = ["model"]
    for dataset in summaries:
        for _, label in metrics:
            header += [f"{dataset} {label}", f"{dataset} {label} std"]
        header += [f"{dataset} s/epoch", f"{dataset} runs"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for model in models:
        row: list[Any] = [model]
        for by_model in summaries.values():
            summary = by_model.get(model)
            for metric, _ in metrics:
                if summary is not None and metric in summary.mean:
                    scale = _scale(metric)
                    row += [f"{scale * summary.mean[metric]:.4f}", f"{scale * summary.std[metric]:.4f}"]
                else:
                    row += ["", ""]
            seconds = summary.seconds_per_epoch if summary is not None else None
            row += ["" if seconds is None else f"{seconds:.2f}", summary.runs if summary is not None else 0]
        writer.writerow(row)
    return buffer.getvalue()


def recall_curve_figure(by_model: dict[str, Summary], dataset: str, models: list[str],
                        ks: tuple[int, ...] = CURVE_KS) -> tuple[Any, list[str]]:
    """Figure 3: test Recall@K (percent) against K, one line per model (std band over seeds).

    Returns the figure and the models left out because their runs lack some ``recall@K``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.4))
    FigureCanvasAgg(figure)  # the Agg backend, without pyplot's global state
    axes = figure.add_subplot()
    left_out = []
    for model in models:
        summary = by_model.get(model)
        keys = [f"recall@{k}" for k in ks]
        if summary is None or any(key not in summary.mean for key in keys):
            left_out.append(model)
            continue
        means = [100 * summary.mean[key] for key in keys]
        stds = [100 * summary.std[key] for key in keys]
        axes.plot(ks, means, marker="o", label=model)
        if summary.runs > 1:
            axes.fill_between(ks, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)], alpha=0.2)
    axes.set_xlabel("K")
    axes.set_ylabel("Recall@K (%)")
    axes.set_title(f"Recall@K on {dataset} (test)")
    axes.set_xticks(list(ks))
    axes.grid(True, alpha=0.3)
    if axes.lines:
        axes.legend()
    return figure, left_out


@dataclass
class ReportFiles:
    """What ``write_report`` wrote, and what it had to leave out (each with the reason)."""

    markdown: Path
    csv: Path
    plots: list[Path]
    notes: list[str]
    tables: list[Path] = field(default_factory=list)


def write_report(records: list[dict[str, Any]], output_dir: str | Path, models: list[str] | None = None,
                 plot_models: list[str] | None = None, header: str = "",
                 comparison: ComparisonSettings | None = None, data_path: str | Path | None = None,
                 breakdown_models: list[str] | None = None) -> ReportFiles:
    """Write ``report.md``, ``report.csv`` and ``recall_at_k_<dataset>.png`` (when some model has the curve).

    ``comparison``: also mark significant differences and write their p-values to ``significance.csv``.
    ``data_path`` (the folder of the datasets' atomic files): also break ``breakdown_models`` (default: every row)
    down by prefix length and popularity, into ``breakdown.csv`` and ``breakdown_<dataset>.png``.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    groups = group_records(records)
    summaries = summarise(records)
    order = ordered_models(summaries, models)
    notes: list[str] = []
    plots = _recall_plots(summaries, plot_models or order, output_dir, notes)
    tables: list[Path] = []
    significance = compare_rows(groups, comparison) if comparison else None
    if significance:
        notes += significance.notes
        tables.append(output_dir / "significance.csv")
        tables[-1].write_text(significance.csv(), encoding="utf-8")
    breakdowns: list[BucketTable] = []
    breakdown_plots: list[Path] = []
    if data_path is not None:
        for dataset, by_model in groups.items():
            found, left_out = breakdown_dataset(dataset, by_model, breakdown_models or order, Path(data_path))
            notes += left_out
            if found and found[0].rows:
                breakdowns += found
                breakdown_plots.append(output_dir / f"breakdown_{dataset}.png")
                breakdown_figure(found).savefig(breakdown_plots[-1], dpi=120)
        tables.append(output_dir / "breakdown.csv")
        tables[-1].write_text(breakdown_csv(breakdowns), encoding="utf-8")
    curves = tradeoff_curves(groups, order)
    tradeoff_plots = _tradeoff_plots(curves, output_dir)
    if curves:
        tables.append(output_dir / "tradeoff.csv")
        tables[-1].write_text(tradeoff_csv(curves), encoding="utf-8")
    markdown = output_dir / "report.md"
    document = _markdown_document(summaries, order, header, plots, notes, significance,
                                  (breakdowns, breakdown_plots), (curves, tradeoff_plots))
    markdown.write_text(document, encoding="utf-8")
    csv_path = output_dir / "report.csv"
    csv_path.write_text(csv_table(summaries, order, TABLE_METRICS + MORE_METRICS), encoding="utf-8")
    return ReportFiles(markdown, csv_path, plots + breakdown_plots + tradeoff_plots, notes, tables)


def _tradeoff_plots(curves: list[TradeoffCurve], output_dir: Path) -> list[Path]:
    plots = []
    for dataset in dict.fromkeys(curve.dataset for curve in curves):
        plots.append(output_dir / f"tradeoff_{dataset}.png")
        tradeoff_figure(curves, dataset).savefig(plots[-1], dpi=120, bbox_inches="tight")
    return plots


def _recall_plots(summaries: dict[str, dict[str, Summary]], models: list[str], output_dir: Path,
                  notes: list[str]) -> list[Path]:
    plots = []
    needed = f"recall@{CURVE_KS[0]}..recall@{CURVE_KS[-1]}"
    for dataset, by_model in summaries.items():
        figure, left_out = recall_curve_figure(by_model, dataset, models)
        notes += [f"{dataset}: {model} left out of the Recall@K plot (needs {needed})" for model in left_out]
        if figure.axes[0].lines:
            plots.append(output_dir / f"recall_at_k_{dataset}.png")
            figure.savefig(plots[-1], dpi=120, bbox_inches="tight")
    return plots


def _markdown_document(summaries: dict[str, dict[str, Summary]], models: list[str], header: str,
                       plots: list[Path], notes: list[str], significance: Significance | None,
                       breakdowns: tuple[list[BucketTable], list[Path]],
                       tradeoff: tuple[list[TradeoffCurve], list[Path]]) -> str:
    runs = "; ".join(f"{dataset}: " + ", ".join(f"{model} {s.runs}" for model, s in by_model.items())
                     for dataset, by_model in summaries.items())
    parts = [
        header.rstrip() + "\n\n" if header else "",
        "Test-set metrics in percent, mean ± standard deviation over seeds (one run: the value alone); "
        "best per column in **bold**; s/epoch: mean seconds per training epoch.\n\n",
        markdown_table(summaries, models, significance=significance),
        _significance_text(significance),
        f"\nRuns per model: {runs}.\n",
        "".join(f"\n![Recall@K]({plot.name})\n" for plot in plots),
        _more_metrics_section(summaries, models, significance),
        _breakdown_section(*breakdowns),
        _tradeoff_section(*tradeoff),
        "".join(f"\n- {note}" for note in notes) + ("\n" if notes else ""),
    ]
    return "".join(parts)


def _significance_text(significance: Significance | None) -> str:
    if significance is None:
        return ""
    settings = significance.settings
    labels = dict(TABLE_METRICS + MORE_METRICS)
    by_dataset: dict[str, list[str]] = {}
    for (dataset, metric), model in significance.references.items():
        by_dataset.setdefault(dataset, []).append(f"{labels[metric]} {model}")
    references = "; ".join(f"{dataset}: {', '.join(columns)}" for dataset, columns in by_dataset.items())
    return (f"\n{BETTER} / {WORSE}: significantly better / worse than the column's reference row (marked {REFERENCE}; "
            f"reference: {settings.describe_reference()}), by a two-sided paired randomization test over the test "
            f"samples ({settings.resamples:,} sign flips, seed {settings.seed}) on the per-sample hit, reciprocal "
            f"rank or NDCG gain, Holm-corrected over the report's {len(significance.comparisons)} comparisons, alpha "
            f"{settings.alpha}. A row with several seeds is tested on its per-sample mean over the seeds (the test "
            "covers the sampling of test sessions, not training randomness). "
            f"References: {references or 'none'}. p-values: `significance.csv`.\n")


def _more_metrics_section(summaries: dict[str, dict[str, Summary]], models: list[str],
                          significance: Significance | None) -> str:
    keys = {metric for metric, _ in MORE_METRICS}
    if not any(keys & set(s.mean) for by_model in summaries.values() for s in by_model.values()):
        return ""
    return ("\n## More metrics\n\n"
            "NDCG@K; HitRate@K, which equals Recall@K with one target per sample (same marks); Cov@K, the percentage "
            "of items in at least one top-K list; AvgPop@K, the mean training popularity (training samples whose "
            "target it is) of the items recommended, as is (not percent).\n\n"
            + markdown_table(summaries, models, MORE_METRICS, significance, seconds=False))


def _tradeoff_section(curves: list[TradeoffCurve], plots: list[Path]) -> str:
    if not curves:
        return ""
    return ("\n## Validation trade-off: Recall@100 against MRR@20\n\n"
            "Per row the validation point its runs selected (the best epoch under `valid_metric`, the hybrid's "
            "chosen weight) and the point with the best validation MRR@20 (mean over seeds; every point in "
            "`tradeoff.csv`).\n\n" + markdown_tradeoff_table(curves)
            + "".join(f"\n![trade-off]({plot.name})\n" for plot in plots))


def _breakdown_section(breakdowns: list[BucketTable], plots: list[Path]) -> str:
    if not breakdowns:
        return ""
    parts = ["\n## Breakdowns\n\n"
             "Recall@20 / MRR@20 in percent on the test samples of each bucket (several seeds: their mean). Prefix "
             "length: items in the sample's prefix. Popularity: training samples whose target the item is; unseen: "
             "none; head / middle / tail: the seen items by popularity, cut where the more popular items hold a "
             "third and two thirds of the training targets (docs/tuning_and_benchmark.md).\n"]
    for table in breakdowns:
        parts.append(f"\n### {table.dataset}: by {table.title}\n\n{markdown_bucket_table(table)}")
    parts += [f"\n![Breakdowns]({plot.name})\n" for plot in plots]
    return "".join(parts)
