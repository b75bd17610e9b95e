"""Chroma top-K recall against exact search, and query throughput, on all Amazon Beauty 5-core item titles.

    python bench/chroma_recall.py --meta RAW_DIR/meta_Beauty.json \
        --queries 1000 --output docs/results/chroma_recall_beauty.md

Items are encoded with MiniLM (`recbole_semsr.embeddings.get_encoder('minilm')`). Two query sets stand in for
generated titles: the exact titles of sampled items, and the same titles with a random 40% of their words dropped.
The baseline is exact cosine search (`ExactIndex`: torch matmul + topk); Chroma is measured with its default HNSW
settings and with the settings `recbole_semsr.llm_rec.retrieval` uses.
"""
from __future__ import annotations

import argparse
import ast
import html
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from recbole_semsr.embeddings.encoders import get_encoder
from recbole_semsr.llm_rec.retrieval import HNSW_CONFIGURATION, ChromaIndex, ExactIndex, encode_quietly


def read_titles(meta: Path) -> tuple[list[str], list[str]]:
    """(asins, titles) from a meta file with one Python-literal dict per line; HTML entities unescaped."""
    asins, titles = [], []
    with meta.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            try:
                record = ast.literal_eval(line)
            except (ValueError, SyntaxError) as error:
                raise SystemExit(f"{meta}, line {line_no}: not a Python dict literal ({error})") from error
            asins.append(record["asin"])
            titles.append(" ".join(html.unescape(record.get("title", "")).split()))
    return asins, titles


def perturb(title: str, rng: random.Random, drop: float = 0.4) -> str:
    """Drop a random `drop` share of the words (at least one word kept)."""
    words = title.split()
    kept = [word for word in words if rng.random() >= drop]
    return " ".join(kept or words[:1])


def default_chroma(path: str, ids: list[str], vectors: np.ndarray) -> ChromaIndex:
    """A Chroma collection with only the cosine space set (HNSW defaults otherwise)."""
    import chromadb

    client = chromadb.PersistentClient(path=path)
    collection = client.create_collection("default-hnsw", configuration={"hnsw": {"space": "cosine"}},
                                          embedding_function=None)
    step = client.get_max_batch_size()
    for start in range(0, len(ids), step):
        collection.add(ids=ids[start:start + step], embeddings=vectors[start:start + step])
    return ChromaIndex(collection, vectors.shape[1])


def overlap(result: list[list[tuple[str, float]]], truth: list[list[tuple[str, float]]], k: int) -> float:
    """Mean |top-k ∩ exact top-k| / k."""
    return float(np.mean([len({i for i, _ in r[:k]} & {i for i, _ in t[:k]}) / k for r, t in zip(result, truth)]))


def timed_search(index, queries: np.ndarray, k: int, batch: int, repeats: int = 3) -> tuple[list, float]:
    """(hits, queries per second) searching `batch` queries per call; the best of `repeats` timed passes."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        hits = []
        for offset in range(0, len(queries), batch):
            hits.extend(index.search(queries[offset:offset + batch], k))
        best = min(best, time.perf_counter() - start)
    return hits, len(queries) / best


def item_vectors(encoder, texts: list[str], cache_file: Path | None) -> np.ndarray:
    """The titles encoded, or read from `cache_file` (`.npy`, written by an earlier run) when its shape fits."""
    if cache_file is not None and cache_file.is_file():
        vectors = np.load(cache_file, allow_pickle=False)
        if vectors.shape == (len(texts), encoder.dim):
            return vectors
    vectors = encode_quietly(encoder, texts, batch_size=256)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, vectors, allow_pickle=False)
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--vectors_cache", type=Path, default=None, help=".npy of the item vectors (reused if present)")
    args = parser.parse_args()
    torch.set_num_threads(2)

    asins, titles = read_titles(args.meta)
    encoder = get_encoder("minilm", device="cpu")
    cached = args.vectors_cache is not None and args.vectors_cache.is_file()
    start = time.perf_counter()
    vectors = item_vectors(encoder, titles, args.vectors_cache)
    encode_seconds = time.perf_counter() - start
    rng = random.Random(args.seed)
    sample = rng.sample([i for i, title in enumerate(titles) if title], args.queries)
    query_sets = {
        "exact titles": encode_quietly(encoder, [titles[i] for i in sample], 256),
        "titles, 40% words dropped": encode_quietly(encoder, [perturb(titles[i], rng) for i in sample], 256),
    }

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        tuned = ChromaIndex.open_or_build(Path(tmp) / "tuned", "beauty-minilm", asins, vectors, "bench")
        tuned_build = time.perf_counter() - start
        start = time.perf_counter()
        default = default_chroma(str(Path(tmp) / "default"), asins, vectors)
        default_build = time.perf_counter() - start
        exact = ExactIndex(asins, vectors)
        indexes = {
            "exact (torch matmul + topk)": (exact, 0.0),
            "Chroma, HNSW defaults": (default, default_build),
            f"Chroma, ef_construction={HNSW_CONFIGURATION['ef_construction']}, "
            f"ef_search={HNSW_CONFIGURATION['ef_search']}": (tuned, tuned_build),
        }
        for query_name, queries in query_sets.items():
            truth, _ = timed_search(exact, queries, args.k, len(queries))
            for index_name, (index, build) in indexes.items():
                hits, qps_batch = timed_search(index, queries, args.k, len(queries))
                _, qps_single = timed_search(index, queries[:200], args.k, 1)  # 200 single-query calls
                rows.append((query_name, index_name, overlap(hits, truth, 20), overlap(hits, truth, args.k),
                             qps_batch, qps_single, build))

    header = (f"| queries | index | recall@20 vs exact | recall@{args.k} vs exact | queries/s ({args.queries} per call)"
              " | queries/s (1 per call) | build s |")
    lines = [header, "|" + " --- |" * 7]
    lines += [f"| {q} | {i} | {r20:.4f} | {rk:.4f} | {qb:,.0f} | {qs:,.0f} | {b:.1f} |"
              for q, i, r20, rk, qb, qs, b in rows]
    table = "\n".join(lines)
    vectors_note = (f"vectors loaded from {args.vectors_cache}" if cached else
                    f"encoded in {encode_seconds:.1f} s ({len(asins) / encode_seconds:,.0f} items/s)")
    summary = (f"{len(asins):,} items ({sum(not t for t in titles)} without a title), MiniLM {encoder.dim}-d, "
               f"{vectors_note}; {args.queries:,} queries, seed {args.seed}; queries/s = best of 3 passes.")
    print(summary)
    print(table)
    if args.output:
        write_results_page(args.output, summary, table)


def write_results_page(path: Path, summary: str, table: str) -> None:
    """Markdown report with the machine and the exact command."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, " \
              f"Python {platform.python_version()}, {platform.system()}; load average at the end {load}"
    command = "python " + " ".join(sys.argv)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Chroma recall against exact search, Amazon Beauty item titles\n\n"
        f"Machine: 2-core CPU ({machine}); other jobs shared the two cores, so throughput is indicative.\n\n"
        f"Command: `{command}`\n\n{summary}\n\n{table}\n\n"
        "recall@K vs exact = mean share of the exact top-K that the index also returns in its top K.\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
