"""Evaluate an LLM as recommender: prompt -> generated title -> encoder -> vector search -> Recall/MRR@K.

The metrics are RecBole's own `Recall` and `MRR` classes (one target per sample: Recall@K = hit in the top K,
MRR@K = 1/rank when rank <= K, else 0), so LLM rows are comparable with the trained models' rows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch
from recbole.evaluator.metrics import MRR, Recall
from tqdm import tqdm

from recbole_semsr.llm_rec.data import SessionSample
from recbole_semsr.llm_rec.prompts import FewShotExample, GenerateFn, PromptTemplate, run_steps
from recbole_semsr.embeddings.encoders import TextEncoder
from recbole_semsr.llm_rec.retrieval import Hits, ItemIndex, encode_quietly

DEFAULT_TOPK = (20, 100)


def ranking_metrics(ranked: Sequence[Sequence[str]], targets: Sequence[str], topk: Sequence[int] = DEFAULT_TOPK,
                    decimal_place: int = 4) -> dict[str, float]:
    """`recall@K` and `mrr@K` for each K in `topk`, computed by RecBole's metric classes."""
    if len(ranked) != len(targets) or not targets:
        raise ValueError(f"need one ranked list per target, got {len(ranked)} lists for {len(targets)} targets")
    width = max(topk)
    hits = torch.zeros(len(targets), width + 1)
    for row, (items, target) in enumerate(zip(ranked, targets)):
        rank = _rank(items[:width], target)
        if rank is not None:
            hits[row, rank - 1] = 1.0
    hits[:, width] = 1.0  # one relevant item per sample (RecBole's pos_len column)
    data = {"rec.topk": hits}
    config = {"topk": list(topk), "metric_decimal_place": decimal_place}
    result = {**Recall(config).calculate_metric(data), **MRR(config).calculate_metric(data)}
    return {f"{metric}@{k}": float(result[f"{metric}@{k}"]) for k in topk for metric in ("recall", "mrr")}


def _rank(items: Sequence[str], target: str) -> int | None:
    for position, item in enumerate(items, start=1):
        if item == target:
            return position
    return None


@dataclass
class RunStats:
    """Counts reported beside the metrics."""

    sessions: int = 0
    empty_generations: int = 0
    untitled_session_items: int = 0
    predictions: list[dict[str, Any]] = field(default_factory=list)


def retrieve(titles: Sequence[str], sessions: Sequence[SessionSample], index: ItemIndex, encoder: TextEncoder,
             k: int, exclude_session_items: bool) -> list[list[str]]:
    """Top-k item ids per generated title; an empty title recommends nothing (counted as a miss)."""
    ranked: list[list[str]] = [[] for _ in titles]
    rows = [i for i, title in enumerate(titles) if title]
    if not rows:
        return ranked
    queries = encode_quietly(encoder, [titles[i] for i in rows])
    exclude = [sessions[i].items for i in rows] if exclude_session_items else None
    hits: list[Hits] = index.search(queries, k, exclude)
    for row, row_hits in zip(rows, hits):
        ranked[row] = [item for item, _ in row_hits]
    return ranked


def evaluate_llm(
    samples: Sequence[SessionSample],
    item_titles: dict[str, str],
    template: PromptTemplate,
    examples: Sequence[FewShotExample],
    generate: GenerateFn,
    index: ItemIndex,
    encoder: TextEncoder,
    topk: Sequence[int] = DEFAULT_TOPK,
    max_session_items: int = 20,
    exclude_session_items: bool = False,
    chunk_size: int = 64,
    keep_predictions: bool = False,
) -> tuple[dict[str, float], RunStats]:
    """Run the prompt on every sample in chunks (cached, resumable), retrieve top-max(topk), and score.

    `examples` are used as given (FSCoT: call `prompts.add_rationales` first).
    """
    stats = RunStats(sessions=len(samples))
    ranked: list[list[str]] = []
    with tqdm(total=len(samples), desc=f"{template.label} sessions", unit="session") as progress:
        for start in range(0, len(samples), chunk_size):
            chunk = samples[start:start + chunk_size]
            sessions = []
            for sample in chunk:
                titles = [item_titles.get(item, "") for item in sample.items[-max_session_items:]]
                stats.untitled_session_items += sum(not title for title in titles)
                sessions.append([title for title in titles if title])
            outputs = run_steps(sessions, template, examples, generate)
            titles = [output["title"] for output in outputs]
            stats.empty_generations += sum(not title for title in titles)
            chunk_ranked = retrieve(titles, chunk, index, encoder, max(topk), exclude_session_items)
            ranked.extend(chunk_ranked)
            if keep_predictions:
                stats.predictions.extend(
                    {"session_id": s.session_id, "target": s.target, **o, "top10": r[:10]}
                    for s, o, r in zip(chunk, outputs, chunk_ranked)
                )
            progress.update(len(chunk))
    metrics = ranking_metrics(ranked, [sample.target for sample in samples], topk)
    return metrics, stats


def result_record(label: str, dataset: str, metrics: dict[str, float], stats: RunStats, seconds: float,
                  config: dict[str, Any], examples: Sequence[FewShotExample]) -> dict[str, Any]:
    """The runner's result JSON layout, with LLM-specific counts under `config`/`llm_stats`."""
    return {
        "model": label,
        "dataset": dataset,
        "best_valid_result": None,
        "test_result": metrics,
        "seconds_per_epoch": None,
        "eval_seconds": seconds,
        "epochs": 0,
        "config": config,
        "llm_stats": {
            "sessions": stats.sessions,
            "empty_generations": stats.empty_generations,
            "untitled_session_items": stats.untitled_session_items,
            "few_shot_examples": [asdict(example) for example in examples],
        },
    }


