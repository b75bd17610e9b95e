"""Where each model wins: Recall@20 and MRR@20 of a report's rows by prefix length and by the target's popularity.

Computed from the stored per-sample ranks and the dataset's atomic files (``<data_path>/<dataset>/<dataset>.
{train,test}.inter``); a row is only broken down when the test file's targets hash to its ranks' ``targets_sha256``
(and, where the record holds it, the training file's SHA-256 is the one it was trained on).

* Prefix length: the number of items in the sample's prefix as the atomic file holds it: 1, 2, 3-4, 5-9, >= 10.
* Training popularity of an item: the number of training samples whose target it is, the popularity that
  averagepopularity@K uses. Every training session of n items gives n - 1 samples (its prefixes), so this counts each
  training event once (the first item of each session aside), while counting occurrences inside the prefixes would
  count an event once more for every later item of its session.
  - unseen: the target is never a training target;
  - head / middle / tail, among the seen items: an item is *head* when the items strictly more popular than it hold
    less than a third of all training targets, *middle* when they hold less than two thirds, *tail* otherwise. Each
    bucket is a range of popularity (items of equal popularity share a bucket), and head and middle each hold about
    a third of the training targets (at least a third, for head).
* Held-out target (cold start): where the converter held items out of training (``--holdout_items``; their ids in
  ``<dataset>.holdout_items``), whether the sample's target is one of them.
"""
from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recbole_semsr.benchmark.significance import UnusableRanks, row_sample_values
from recbole_semsr.io import INTER_HEADER
from recbole_semsr.provenance import file_sha256
from recbole_semsr.sample_ranks import targets_sha256

BREAKDOWN_K = 20
PREFIX_EDGES = (1, 2, 3, 5, 10)
PREFIX_LABELS = ("1", "2", "3–4", "5–9", "≥10")
POPULARITY_LABELS = ("head", "middle", "tail", "unseen")
HOLDOUT_LABELS = ("held-out target", "other targets")
METRICS = (f"recall@{BREAKDOWN_K}", f"mrr@{BREAKDOWN_K}")


class AtomicFileError(ValueError):
    """An atomic file that cannot be read (missing, wrong header, a bad line)."""


@dataclass
class AtomicSplit:
    """One split's samples in file order: the prefix length and the target of each."""

    path: Path
    prefix_lengths: np.ndarray
    targets: list[str]


def read_atomic_split(path: Path) -> AtomicSplit:
    """``session_id, item_id_list, item_id`` rows; AtomicFileError names the file and line of a bad one."""
    if not path.is_file():
        raise AtomicFileError(f"{path}: not found (expected a converter's atomic file)")
    lengths, targets = [], []
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        if tuple(header) != INTER_HEADER:
            raise AtomicFileError(f"{path}:1: header {header}, expected {list(INTER_HEADER)}")
        for number, line in enumerate(handle, start=2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3 or not fields[1].split() or not fields[2]:
                raise AtomicFileError(f"{path}:{number}: expected session id, a non-empty prefix and a target, "
                                      "separated by tabs")
            lengths.append(len(fields[1].split()))
            targets.append(fields[2])
    return AtomicSplit(path, np.asarray(lengths, dtype=np.int64), targets)


def prefix_length_buckets(lengths: np.ndarray) -> np.ndarray:
    """Index into PREFIX_LABELS of each prefix length (>= 1)."""
    return np.searchsorted(PREFIX_EDGES, lengths, side="right") - 1


def item_popularity_buckets(training_targets: list[str]) -> dict[str, int]:
    """Index into POPULARITY_LABELS (head 0, middle 1, tail 2) of every item that is a training target."""
    counts = Counter(training_targets)
    items_with_count = Counter(counts.values())
    total = len(training_targets)
    above, bucket_of_count = 0, {}
    for count in sorted(items_with_count, reverse=True):
        bucket_of_count[count] = 0 if 3 * above < total else 1 if 3 * above < 2 * total else 2
        above += count * items_with_count[count]
    return {item: bucket_of_count[count] for item, count in counts.items()}


def read_holdout_items(path: Path) -> set[str]:
    """The converter's ``<dataset>.holdout_items``: one item id per line."""
    return {line for line in path.read_text(encoding="utf-8").splitlines() if line}


def holdout_buckets(held_out: set[str], targets: list[str]) -> np.ndarray:
    """Index into HOLDOUT_LABELS of each target: 0 when it was held out of training, 1 otherwise."""
    return np.asarray([0 if target in held_out else 1 for target in targets], dtype=np.int64)


def popularity_buckets(training_targets: list[str], targets: list[str]) -> np.ndarray:
    """Index into POPULARITY_LABELS of each target; ``unseen`` when it is no training sample's target."""
    buckets = item_popularity_buckets(training_targets)
    unseen = POPULARITY_LABELS.index("unseen")
    return np.asarray([buckets.get(target, unseen) for target in targets], dtype=np.int64)


@dataclass
class BucketTable:
    """One breakdown of one dataset: per bucket its sample count, and per row (Recall@20, MRR@20) in the bucket."""

    dataset: str
    title: str
    labels: tuple[str, ...]
    counts: list[int]
    rows: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def breakdown_dataset(dataset: str, by_model: dict[str, list[dict[str, Any]]], models: list[str],
                      data_path: Path) -> tuple[list[BucketTable], list[str]]:
    """The prefix-length and popularity tables (and the held-out-target table where the dataset holds items out)
    of ``models`` (those present) on one dataset, and the notes on what was left out."""
    folder = Path(data_path) / dataset
    try:
        test = read_atomic_split(folder / f"{dataset}.test.inter")
        train = read_atomic_split(folder / f"{dataset}.train.inter")
    except AtomicFileError as error:
        return [], [f"{dataset}: no breakdowns: {error}"]
    tables = [
        BucketTable(dataset, "prefix length", PREFIX_LABELS, []),
        BucketTable(dataset, "target's training popularity", POPULARITY_LABELS, []),
    ]
    assignments = [prefix_length_buckets(test.prefix_lengths), popularity_buckets(train.targets, test.targets)]
    holdout_file = folder / f"{dataset}.holdout_items"
    if holdout_file.is_file():
        tables.append(BucketTable(dataset, "target held out of training", HOLDOUT_LABELS, []))
        assignments.append(holdout_buckets(read_holdout_items(holdout_file), test.targets))
    for table, buckets in zip(tables, assignments):
        table.counts = np.bincount(buckets, minlength=len(table.labels)).tolist()
    test_hash, notes = targets_sha256(test.targets), []
    for model in [model for model in models if model in by_model]:
        try:
            recall, mrr = _checked_values(by_model[model], test, train.path, test_hash)
        except UnusableRanks as reason:
            notes.append(f"{dataset}: {model} left out of the breakdowns: {reason}")
            continue
        for table, buckets in zip(tables, assignments):
            table.rows[model] = [_bucket_means(recall, mrr, buckets == index) for index in range(len(table.labels))]
    return tables, notes


def _checked_values(runs: list[dict[str, Any]], test: AtomicSplit, train_path: Path,
                    test_hash: str) -> tuple[np.ndarray, np.ndarray]:
    recall, mrr = (row_sample_values(runs, metric) for metric in METRICS)
    if recall.targets_sha256 != test_hash or len(recall.values) != len(test.targets):
        raise UnusableRanks(f"{test.path} (targets_sha256 {test_hash[:12]}..., {len(test.targets)} samples) is not "
                            f"the test data of its ranks (targets_sha256 {recall.targets_sha256[:12]}..., "
                            f"{len(recall.values)} samples)")
    trained_on = {run.get("data", {}).get("files", {}).get(train_path.name) for run in runs} - {None}
    if trained_on and trained_on != {file_sha256(train_path)}:
        raise UnusableRanks(f"{train_path} is not the training file its runs record (sha256 differs)")
    return recall.values, mrr.values


def _bucket_means(recall: np.ndarray, mrr: np.ndarray, chosen: np.ndarray) -> tuple[float, float]:
    if not chosen.any():
        return math.nan, math.nan
    return float(recall[chosen].mean()), float(mrr[chosen].mean())


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.2f}"


def markdown_bucket_table(table: BucketTable) -> str:
    """Rows = models, columns = buckets (sample count in the header), cells ``R@20 / MRR@20`` in percent."""
    header = ["Model"] + [f"{label} (n={count:,})" for label, count in zip(table.labels, table.counts)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * len(table.labels)) + "|"]
    for model, cells in table.rows.items():
        lines.append("| " + " | ".join([model] + [f"{_percent(r)} / {_percent(m)}" for r, m in cells]) + " |")
    return "\n".join(lines) + "\n"


def breakdown_csv(tables: list[BucketTable]) -> str:
    """Long format: dataset, breakdown, bucket, samples, model, R@20 and MRR@20 in percent (empty: no sample)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["dataset", "breakdown", "bucket", "samples", "model", f"R@{BREAKDOWN_K}", f"MRR@{BREAKDOWN_K}"])
    for table in tables:
        for model, cells in table.rows.items():
            for label, count, (recall, mrr) in zip(table.labels, table.counts, cells):
                writer.writerow([table.dataset, table.title, label, count, model,
                                 *("" if math.isnan(v) else f"{100 * v:.4f}" for v in (recall, mrr))])
    return buffer.getvalue()


def breakdown_figure(tables: list[BucketTable]) -> Any:
    """One figure for a dataset: a column per breakdown, a row per metric (R@20, MRR@20), one line per model."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.2 * len(tables) + 1.8, 7.6), layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(2, len(tables), squeeze=False)
    for column, table in enumerate(tables):
        ticks = [f"{label}\n(n={count:,})" for label, count in zip(table.labels, table.counts)]
        for row, name in enumerate((f"Recall@{BREAKDOWN_K}", f"MRR@{BREAKDOWN_K}")):
            axes = grid[row][column]
            for model, cells in table.rows.items():
                axes.plot(range(len(ticks)), [100 * cell[row] for cell in cells], marker="o", label=model)
            axes.set_xticks(range(len(ticks)), ticks)
            axes.set_ylabel(f"{name} (%)")
            axes.set_title(f"{name} by {table.title}")
            axes.grid(True, alpha=0.3)
    if tables and tables[0].rows:
        figure.legend(*grid[0][0].get_legend_handles_labels(), loc="outside right upper", fontsize="small")
    figure.suptitle(f"{tables[0].dataset} (test)" if tables else "")
    return figure
