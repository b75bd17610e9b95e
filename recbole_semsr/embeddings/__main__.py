"""Encode a dataset's items and report items/second.

    python -m recbole_semsr.embeddings --dataset=beauty --encoder=minilm [--model_path=DIR] [--data_path=DIR]
        [--batch_size=64] [--embedding_dir=DIR] [--config_files a.yaml ...] [--force] [--key=value ...]

Settings are the dataset's (`config.dataset_settings`: properties/overall.yaml, the dataset's YAML files, the
--config_files, then these flags); any other `--key=value` is a config override, e.g.
`--sem_encoder_options="{'pooling': 'avg'}"`. Bad input is refused with one line (`error: ...`, exit status 1).
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from recbole_semsr.config import DatasetNameError, dataset_settings, parse_overrides, split_config_files
from recbole_semsr.defaults import ConfigFileError
from recbole_semsr.embeddings.errors import EmbeddingError
from recbole_semsr.embeddings.loader import item_embeddings_for_config, item_file_path, setting
from recbole_semsr.embeddings.store import StoredEmbeddings
from recbole_semsr.preflight import ConfigValueError, OutputLocationError, check_writable_folder

INPUT_ERRORS = (EmbeddingError, ConfigFileError, ConfigValueError, DatasetNameError, OutputLocationError,
                FileNotFoundError)
"""Errors about the user's input: printed as their one-line message, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recbole_semsr.embeddings",
        description=__doc__.split("\n")[0],
        epilog="Any other --key=value is a config override, e.g. --sem_encoder_options=\"{'pooling': 'avg'}\".",
    )
    parser.add_argument("--dataset", "-d", required=True, help="dataset name, e.g. beauty, kdd_m2_uk, ml-100k")
    parser.add_argument("--encoder", "-e", default=None, help="minilm (default), sentence-transformers, angle, llm2vec")
    parser.add_argument("--model_path", default=None, help="local model directory (or hub name) for the encoder")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/<dataset>.item")
    parser.add_argument("--batch_size", type=int, default=None, help="texts per encoder batch (sem_batch_size)")
    parser.add_argument("--embedding_dir", default=None, help="cache folder (sem_embedding_dir)")
    parser.add_argument("--config_files", nargs="*", default=None, help="extra YAML files, applied in order (several words or one string)")
    parser.add_argument("--force", action="store_true", help="encode even when a matching cached file exists")
    return parser


def config_overrides(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    """Flags and `--key=value` extras as a config dict (flags left unset are not included)."""
    flags = {
        "sem_encoder": args.encoder,
        "sem_model_path": args.model_path,
        "data_path": args.data_path,
        "sem_batch_size": args.batch_size,
        "sem_embedding_dir": args.embedding_dir,
    }
    return {**{key: value for key, value in flags.items() if value is not None}, **parse_overrides(extra)}


def compute_precision(meta: dict[str, Any]) -> str:
    """`fp32`, `fp16` or `bf16` as recorded in a cache index (files written before `precision` say only `fp16`)."""
    return meta.get("precision") or ("fp16" if meta.get("fp16") else "fp32")


def report_table(config: Any, stored: StoredEmbeddings, seconds: float) -> str:
    """Markdown table of what was encoded (or reused) and how fast."""
    meta = stored.meta
    reused = stored.reused
    encoder = meta.get("encoder", {})
    speed = meta.get("items_per_second")
    rows = [
        ("dataset", config["dataset"]),
        ("item file", str(item_file_path(config))),
        ("encoder", f"{encoder.get('name')} ({encoder.get('model_path')})"),
        ("items", f"{len(stored.item_ids):,}"),
        ("dimension", str(stored.vectors.shape[1])),
        ("device", f"{meta.get('device')} {compute_precision(meta)}"),
        ("encode seconds", f"{meta.get('encode_seconds')}" + (" (when the cache was written)" if reused else "")),
        ("items/second", f"{speed}" + (" (when the cache was written)" if reused else "")),
        ("this run", f"{'reused cache' if reused else 'encoded'} in {seconds:.1f} s"),
        ("vectors", stored.source),
    ]
    lines = ["| | |", "| --- | --- |"] + [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    try:
        settings = dataset_settings(args.dataset, split_config_files(args.config_files),
                                    config_overrides(args, extra))
        check_writable_folder(setting(settings, "sem_embedding_dir"), "sem_embedding_dir")
        started = time.perf_counter()
        stored = item_embeddings_for_config(settings, force=args.force)
    except INPUT_ERRORS as error:
        raise SystemExit(f"error: {error}") from error
    except KeyboardInterrupt as interrupt:
        raise SystemExit("interrupted: no new vectors were cached; run the same command again to encode") from interrupt
    print(report_table(settings, stored, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
