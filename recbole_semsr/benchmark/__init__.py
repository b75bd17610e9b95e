"""Benchmark runner, resumable results store, and paper-style reports (Table 2 layout, Recall@K plot)."""
from recbole_semsr.benchmark.report import markdown_table, recall_curve_figure, summarise, write_report
from recbole_semsr.benchmark.runner import run_benchmark, seed_list
from recbole_semsr.benchmark.store import ResultsStore, load_result_files

__all__ = [
    "ResultsStore",
    "load_result_files",
    "markdown_table",
    "recall_curve_figure",
    "run_benchmark",
    "seed_list",
    "summarise",
    "write_report",
]
