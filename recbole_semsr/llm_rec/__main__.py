"""CLI: `python -m recbole_semsr.llm_rec --dataset=beauty --prompt=fs --backend=hf --llm_path=DIR [--subset=N]`.

The flags follow the runner's names: `--llm` / `--llm_path` name the LLM (`--model` is the recommender everywhere
else); missing atomic files are converted from `--raw_data_path` (raw_data/) as the runner does.

Writes the runner's result JSON (model, dataset, test_result {recall@20, mrr@20, recall@100, mrr@100}, config, ...).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Sequence

from dataset_converters.prepare import ConversionError, conversion_summary, ensure_dataset
from recbole_semsr.compat import MissingExtraError
from recbole_semsr.config import DatasetNameError, check_dataset_name, dataset_settings
from recbole_semsr.defaults import ConfigFileError
from recbole_semsr.embeddings.encoders import build_encoder
from recbole_semsr.embeddings.errors import EmbeddingError
from recbole_semsr.embeddings.loader import configured_encoder, item_embeddings_for_config, read_item_texts
from recbole_semsr.io import write_json
from recbole_semsr.llm_rec.backends import BackendError, CachedGenerator, GenerationCache, make_backend
from recbole_semsr.llm_rec.data import AtomicFileError, item_titles, most_recent, read_sessions
from recbole_semsr.llm_rec.evaluate import DEFAULT_TOPK, RunStats, evaluate_llm, result_record
from recbole_semsr.llm_rec.prompts import PromptTemplate, TemplateError, add_rationales, draw_examples, load_template
from recbole_semsr.llm_rec.retrieval import build_index, chromadb_module
from recbole_semsr.preflight import ConfigValueError


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (RecBole style: --key=value)."""
    parser = argparse.ArgumentParser(prog="python -m recbole_semsr.llm_rec", description=__doc__.splitlines()[0])
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", required=True, help="dataset name, e.g. beauty (files <data_path>/<dataset>/)")
    data.add_argument("--data_path", default="dataset", help="folder holding <dataset>/<dataset>.*.inter/.item")
    data.add_argument("--raw_data_path", default="raw_data",
                      help="raw files to convert when the atomic files are missing (raw_data/, as the runner)")
    data.add_argument("--split", default="test", choices=("test", "valid", "recent"),
                      help="samples to evaluate (recent: <dataset>.recent.inter, the Amazon-M2 LLM subset)")
    data.add_argument("--subset", type=int, default=None,
                      help="evaluate only the N most recent samples (by timestamp if present, else the last N rows)")
    data.add_argument("--text_field", default="title", help=".item column shown to the LLM and indexed")
    prompt = parser.add_argument_group("prompt")
    prompt.add_argument("--prompt", default="fs", help="fs | zcot | fscot | path to a template YAML")
    prompt.add_argument("--n_examples", type=int, default=None, help="few-shot examples (template default)")
    prompt.add_argument("--max_session_items", type=int, default=20, help="most recent session titles shown")
    prompt.add_argument("--seed", type=int, default=2025, help="seed of the few-shot example draw and sampling")
    llm = parser.add_argument_group("LLM backend")
    llm.add_argument("--backend", default="hf", choices=("hf", "openai"))
    llm.add_argument("--llm_path", default=None, help="hf: local directory of the LLM")
    llm.add_argument("--llm", default=None, help="openai: name of the LLM the endpoint serves")
    llm.add_argument("--base_url", default="http://127.0.0.1:8000/v1", help="openai: endpoint up to /v1")
    llm.add_argument("--api_key_env", default="OPENAI_API_KEY", help="openai: environment variable with the key")
    llm.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    llm.add_argument("--batch_size", type=int, default=8, help="hf: prompts per generate() call")
    llm.add_argument("--concurrency", type=int, default=4, help="openai: parallel requests")
    llm.add_argument("--timeout", type=float, default=120.0, help="openai: seconds per request")
    llm.add_argument("--max_retries", type=int, default=3, help="openai: retries after a timeout or 429/5xx")
    retrieval = parser.add_argument_group("retrieval")
    retrieval.add_argument("--encoder", default=None,
                           help="item text encoder (sem_encoder of the Sem models' settings; minilm by default)")
    retrieval.add_argument("--encoder_path", default=None, help="local encoder model directory (sem_model_path)")
    retrieval.add_argument("--embedding_dir", default=None,
                           help="item vector cache shared with the Sem models (sem_embedding_dir)")
    retrieval.add_argument("--index", default="chroma", choices=("chroma", "exact"))
    retrieval.add_argument("--exclude_session_items", action="store_true", help="never recommend a session's items")
    retrieval.add_argument("--topk", default=",".join(map(str, DEFAULT_TOPK)),
                           help="K values: 20,100 or [20,100]")
    output = parser.add_argument_group("output")
    output.add_argument("--cache_dir", default="saved/llm_rec", help="generation cache and Chroma collections")
    output.add_argument("--result_file", default=None, help="write the result JSON here")
    output.add_argument("--predictions_file", default=None, help="write each sample's generation and top-10 (JSONL)")
    return parser.parse_args(argv)


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """Constructor options of the chosen backend; a missing model is a usage error."""
    if args.backend == "hf":
        if not args.llm_path:
            raise SystemExit("--backend=hf needs --llm_path=<local Hugging Face model directory>")
        return {"model_path": args.llm_path, "batch_size": args.batch_size, "temperature": args.temperature,
                "seed": args.seed}
    if not args.llm:
        raise SystemExit("--backend=openai needs --llm=<name the endpoint serves>")
    return {"base_url": args.base_url, "model": args.llm, "api_key": os.environ.get(args.api_key_env),
            "temperature": args.temperature, "timeout": args.timeout, "max_retries": args.max_retries,
            "concurrency": args.concurrency}


def dataset_files(args: argparse.Namespace) -> tuple[Path, Path]:
    """(train .inter, evaluated split .inter), converting raw files first when the converters can."""
    raw = Path(args.raw_data_path) if args.raw_data_path else None
    folder = Path(args.data_path) / args.dataset
    stats = ensure_dataset(args.dataset, Path(args.data_path), raw)
    if stats is not None:
        print(conversion_summary(args.dataset, folder, stats), flush=True)
    return folder / f"{args.dataset}.train.inter", folder / f"{args.dataset}.{args.split}.inter"


def item_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The Sem models' settings for this dataset (`dataset_settings`: the same YAML layers, so the same item text
    template and embedding store), with the encoder flags given here."""
    flags = {"sem_encoder": args.encoder, "sem_model_path": args.encoder_path, "sem_embedding_dir": args.embedding_dir}
    overrides = {key: value for key, value in flags.items() if value is not None}
    return dataset_settings(args.dataset, config_dict={"data_path": args.data_path, "show_progress": False,
                                                       **overrides})


def prompt_template(args: argparse.Namespace) -> tuple[PromptTemplate, int]:
    """The template and the number of few-shot examples (template default unless --n_examples)."""
    template = load_template(args.prompt)
    n_examples = template.n_examples if args.n_examples is None else args.n_examples
    if n_examples and not template.example:
        raise SystemExit(f"--n_examples={n_examples}: template {args.prompt!r} has no 'example' format for examples")
    return template, n_examples


def write_outputs(args: argparse.Namespace, record: dict[str, Any], stats: RunStats) -> None:
    """Print a summary; write the result JSON and the per-sample predictions when asked."""
    summary = {"model": record["model"], "dataset": record["dataset"], "test_result": record["test_result"],
               **record["llm_stats"], "few_shot_examples": len(record["llm_stats"]["few_shot_examples"])}
    print(json.dumps(summary, indent=2))
    if args.result_file:
        write_json(Path(args.result_file), record)
    if args.predictions_file:
        Path(args.predictions_file).write_text(
            "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in stats.predictions), encoding="utf-8")


def parse_topk(text: str) -> tuple[int, ...]:
    """`20,100`, `[20,100]` or `[20, 100]` as (20, 100); anything else is a usage error."""
    parts = [part.strip() for part in text.strip().removeprefix("[").removesuffix("]").split(",")]
    if not all(part.isdigit() and int(part) > 0 for part in parts):
        raise SystemExit(f"--topk={text}: expected positive integers such as 20,100 or [20,100]")
    return tuple(int(part) for part in parts)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run one LLM-as-recommender evaluation and return (and optionally write) its result record; a problem with
    the input or the backend ends with its one-line message."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        return evaluate(args)
    except (BackendError, AtomicFileError, TemplateError, EmbeddingError, ConversionError, FileNotFoundError,
            DatasetNameError, ConfigFileError, ConfigValueError, MissingExtraError) as error:
        raise SystemExit(f"error: {error}") from error


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """The evaluation behind `main`: the index's package is looked for and the backend is built and checked first,
    before any data or encoder work."""
    topk = parse_topk(args.topk)
    check_dataset_name(args.dataset)
    template, n_examples = prompt_template(args)
    if args.index == "chroma":
        chromadb_module()
    backend = make_backend(args.backend, **backend_options(args))
    backend.check()
    train_file, eval_file = dataset_files(args)
    settings = item_settings(args)
    titles = item_titles(read_item_texts(settings)[0], args.text_field)
    samples = most_recent(read_sessions(eval_file), args.subset)
    train = read_sessions(train_file) if n_examples else []
    cache_dir = Path(args.cache_dir)
    generate = CachedGenerator(backend, GenerationCache(cache_dir / "generations" / f"{args.dataset}.jsonl"))
    examples = add_rationales(draw_examples(train, titles, n_examples, args.seed, args.max_session_items),
                              template, generate)
    stored = item_embeddings_for_config(settings, show_progress=False)
    spec = configured_encoder(settings)
    encoder = build_encoder(spec)
    index = build_index(args.index, stored.item_ids, stored.vectors, cache_dir, f"{args.dataset}-{spec.name}")
    start = time.perf_counter()
    metrics, stats = evaluate_llm(samples, titles, template, examples, generate, index, encoder, topk,
                                  args.max_session_items, args.exclude_session_items,
                                  keep_predictions=bool(args.predictions_file))
    config = {**vars(args), "n_examples": n_examples, "backend_calls": generate.calls, "cache_hits": generate.hits,
              "backend_params": backend.params(), "model_id": backend.model}
    record = result_record(template.label, args.dataset, metrics, stats, time.perf_counter() - start, config, examples)
    write_outputs(args, record, stats)
    return record


if __name__ == "__main__":
    main()
