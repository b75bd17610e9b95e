"""Benchmark reports: the paper's Table 2 layout (Markdown and CSV) and its Figure 3 (Recall@K against K).

Test metrics in percent, mean ± sample standard deviation over seeds, best mean per column in bold (ties: all),
seconds per training epoch beside each dataset's metrics.
"""
from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLE_METRICS = (("recall@20", "R@20"), ("mrr@20", "MRR@20"), ("recall@100", "R@100"), ("mrr@100", "MRR@100"))
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


def summarise(records: list[dict[str, Any]]) -> dict[str, dict[str, Summary]]:
    """Group result records by dataset, then model (first-seen order), and average their test metrics."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in records:
        groups.setdefault(str(record["dataset"]), {}).setdefault(str(record["model"]), []).append(record)
    return {
        dataset: {model: _summary(model, dataset, runs) for model, runs in by_model.items()}
        for dataset, by_model in groups.items()
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


def best_models(by_model: dict[str, Summary], metric: str) -> set[str]:
    """Models whose mean (as printed, percent with 2 decimals) is the highest in this column."""
    shown = {model: round(100 * s.mean[metric], 2) for model, s in by_model.items() if metric in s.mean}
    if not shown:
        return set()
    top = max(shown.values())
    return {model for model, value in shown.items() if value == top}


def format_cell(summary: Summary | None, metric: str) -> str:
    """``20.84 ± 0.12`` in percent (just the mean for one run); ``-`` when the metric is missing."""
    if summary is None or metric not in summary.mean:
        return "-"
    mean = f"{100 * summary.mean[metric]:.2f}"
    return mean if summary.runs == 1 else f"{mean} ± {100 * summary.std[metric]:.2f}"


def format_seconds(summary: Summary | None) -> str:
    return "-" if summary is None or summary.seconds_per_epoch is None else f"{summary.seconds_per_epoch:.1f}"


def markdown_table(summaries: dict[str, dict[str, Summary]], models: list[str]) -> str:
    """Table 2 layout: one row per model, each dataset's R@20, MRR@20, R@100, MRR@100 and s/epoch side by side."""
    header = ["Model"]
    for dataset in summaries:
        header += [f"{dataset} {label}" for _, label in TABLE_METRICS] + [f"{dataset} s/epoch"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    bold = {(dataset, metric): best_models(by_model, metric)
            for dataset, by_model in summaries.items() for metric, _ in TABLE_METRICS}
    for model in models:
        cells = [model]
        for dataset, by_model in summaries.items():
            summary = by_model.get(model)
            for metric, _ in TABLE_METRICS:
                cell = format_cell(summary, metric)
                cells.append(f"**{cell}**" if model in bold[(dataset, metric)] else cell)
            cells.append(format_seconds(summary))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_table(summaries: dict[str, dict[str, Summary]], models: list[str]) -> str:
    """Same layout as the Markdown table, with separate mean and std columns (percent) and the number of runs."""
    header = ["model"]
    for dataset in summaries:
        for _, label in TABLE_METRICS:
            header += [f"{dataset} {label}", f"{dataset} {label} std"]
        header += [f"{dataset} s/epoch", f"{dataset} runs"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for model in models:
        row: list[Any] = [model]
        for by_model in summaries.values():
            summary = by_model.get(model)
            for metric, _ in TABLE_METRICS:
                if summary is not None and metric in summary.mean:
                    row += [f"{100 * summary.mean[metric]:.4f}", f"{100 * summary.std[metric]:.4f}"]
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


def write_report(records: list[dict[str, Any]], output_dir: str | Path, models: list[str] | None = None,
                 plot_models: list[str] | None = None, header: str = "") -> ReportFiles:
    """Write ``report.md``, ``report.csv`` and ``recall_at_k_<dataset>.png`` (when some model has the curve)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    summaries = summarise(records)
    order = ordered_models(summaries, models)
    notes: list[str] = []
    plots = []
    needed = f"recall@{CURVE_KS[0]}..recall@{CURVE_KS[-1]}"
    for dataset, by_model in summaries.items():
        figure, left_out = recall_curve_figure(by_model, dataset, plot_models or order)
        notes += [f"{dataset}: {model} left out of the Recall@K plot (needs {needed})" for model in left_out]
        if figure.axes[0].lines:
            plots.append(output_dir / f"recall_at_k_{dataset}.png")
            figure.savefig(plots[-1], dpi=120, bbox_inches="tight")
    markdown = output_dir / "report.md"
    markdown.write_text(_markdown_document(summaries, order, header, plots, notes), encoding="utf-8")
    csv_path = output_dir / "report.csv"
    csv_path.write_text(csv_table(summaries, order), encoding="utf-8")
    return ReportFiles(markdown, csv_path, plots, notes)


def _markdown_document(summaries: dict[str, dict[str, Summary]], models: list[str], header: str,
                       plots: list[Path], notes: list[str]) -> str:
    runs = "; ".join(f"{dataset}: " + ", ".join(f"{model} {s.runs}" for model, s in by_model.items())
                     for dataset, by_model in summaries.items())
    parts = [
        header.rstrip() + "\n\n" if header else "",
        "Test-set metrics in percent, mean ± standard deviation over seeds (one run: the value alone); "
        "best per column in **bold**; s/epoch: mean seconds per training epoch.\n\n",
        markdown_table(summaries, models),
        f"\nRuns per model: {runs}.\n",
        "".join(f"\n![Recall@K]({plot.name})\n" for plot in plots),
        "".join(f"\n- {note}" for note in notes) + ("\n" if notes else ""),
    ]
    return "".join(parts)
