"""`load_item_embeddings(config, dataset)`: the frozen LLM item table `I_l` (paper §3.3.1) aligned to RecBole ids.

Vectors come from `sem_embedding_file` (a user-supplied `.itememb` file) when set, otherwise from the encoder
cache, encoding the dataset's `.item` file with `sem_encoder` first when no cached file matches.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recbole_semsr import defaults
from recbole_semsr.config import dataset_dir
from recbole_semsr.embeddings.encoders import EncoderSpec, build_encoder, encoder_spec
from recbole_semsr.embeddings.errors import (
    EmbeddingDimensionError,
    EncoderSettingsError,
    ItemFileError,
    MissingItemsError,
    TextCoverageError,
)
from recbole_semsr.embeddings.item_file import ItemTable, read_item_file
from recbole_semsr.embeddings.item_text import ItemTextTemplate, config_value, count_empty, render_item_texts
from recbole_semsr.embeddings.store import (
    EmbeddingStore,
    StoredEmbeddings,
    cache_fingerprint,
    read_itememb,
    validate_vectors,
)

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)
ALIGN_CHUNK_ROWS = 65_536


def setting(config: Any, key: str) -> Any:
    """A `sem_*` setting from `config`, falling back to its default in `properties/overall.yaml`."""
    return config_value(config, key, defaults.overall_defaults().get(key))


def item_file_path(config: Any) -> Path:
    """`<dataset_dir>/<dataset>.item`."""
    return dataset_dir(config) / f"{config['dataset']}.item"


def read_item_texts(config: Any) -> tuple[ItemTable, ItemTextTemplate, list[str]]:
    """The dataset's `.item` file, the configured template, and every item's text in file order."""
    path = item_file_path(config)
    if not path.is_file():
        raise ItemFileError(
            f"dataset {config['dataset']} has no item text: {path} not found. The Sem* models encode each item's "
            "text: convert the dataset with --items FILE --item_id_col C --text_cols title,... "
            "(python -m dataset_converters.sessions), or set sem_embedding_file to ready vectors. ID models "
            "(NISER, MSGAT, GRU4Rec, ...) run without item text."
        )
    table = read_item_table(config, path)
    template = ItemTextTemplate.from_config(config)
    texts = render_item_texts(table, template)
    empty = count_empty(texts)
    if empty:
        logger.warning(f"{empty} of {len(texts)} items of {table.path} have no field used by the text template; "
                       "they are encoded from an empty text")
    report_cut_fields(table, template)
    return table, template, texts


def report_cut_fields(table: ItemTable, template: ItemTextTemplate) -> int:
    """Log how many items had a text field longer than `sem_max_field_chars` (cut to it before encoding); returns
    the count."""
    cut = [(token, fields) for token in table.tokens if (fields := template.cut_fields(table.values[token]))]
    if cut:
        examples = ", ".join(f"{token} ({'/'.join(fields)})" for token, fields in cut[:5])
        logger.warning(f"{len(cut)} of {len(table)} items of {table.path} have a text field longer than "
                       f"sem_max_field_chars={template.max_field_chars} characters, cut to it (e.g. {examples})")
    return len(cut)


def check_text_coverage(table: ItemTable, texts: list[str], token2id: dict[str, int],
                        max_textless_share: float) -> None:
    """Refuse (`TextCoverageError`) item texts where more than `max_textless_share` of the dataset's items have no
    text: an item table that matches no interaction id (`1034` against `1034.0`) would leave a Sem model with one
    vector for nearly every item."""
    text_of = dict(zip(table.tokens, texts))
    tokens = [token for token, index in token2id.items() if index != 0]
    textless = sum(1 for token in tokens if not text_of.get(token))
    if tokens and textless / len(tokens) > max_textless_share:
        raise TextCoverageError(
            f"{table.path}: {textless} of {len(tokens)} dataset items have no text (more than "
            f"sem_max_textless_share={max_textless_share:g}); do the item ids of the .item file match those of the "
            "interactions (1034 against 1034.0)? Fix the item table, or set sem_max_textless_share: 1.0 to train anyway"
        )


def read_item_table(config: Any, path: str | Path) -> ItemTable:
    """An `.item` file read with the dataset's item field, separators and encoding."""
    return read_item_file(
        path,
        item_field=config_value(config, "ITEM_ID_FIELD", "item_id"),
        field_separator=config_value(config, "field_separator", "\t"),
        seq_separator=config_value(config, "seq_separator", " "),
        encoding=config_value(config, "encoding", "utf-8"),
    )


def configured_encoder(config: Any) -> EncoderSpec:
    """`sem_encoder`, `sem_model_path` and `sem_encoder_options` as a validated spec (nothing loaded)."""
    options = setting(config, "sem_encoder_options")
    if not isinstance(options, dict):
        raise EncoderSettingsError(f"sem_encoder_options must be a mapping such as {{'pooling': 'cls'}}, got "
                                   f"{options!r}")
    return encoder_spec(setting(config, "sem_encoder"), setting(config, "sem_model_path"), **options)


def encode_texts(spec: EncoderSpec, texts: list[str], batch_size: int, show_progress: bool) -> tuple[np.ndarray, dict]:
    """Load the encoder, encode `texts`, and return the vectors with device and speed facts for the cache index."""
    encoder = build_encoder(spec)
    started = time.perf_counter()
    vectors = encoder.encode(texts, batch_size=batch_size, show_progress=show_progress)
    seconds = time.perf_counter() - started
    return vectors, {
        "device": encoder.device,
        "fp16": encoder.fp16,
        "precision": encoder.precision,
        "encode_seconds": round(seconds, 3),
        "items_per_second": round(len(texts) / seconds, 1) if seconds > 0 else None,
    }


def item_embeddings_for_config(config: Any, force: bool = False, show_progress: bool = True) -> StoredEmbeddings:
    """Vectors for every item of the dataset's `.item` file: the cached file when its fingerprint matches
    (unless `force`), otherwise freshly encoded with the configured encoder and cached."""
    return embed_item_texts(config, *read_item_texts(config), force=force, show_progress=show_progress)


def embed_item_texts(config: Any, table: ItemTable, template: ItemTextTemplate, texts: list[str],
                     force: bool = False, show_progress: bool = True) -> StoredEmbeddings:
    """`item_embeddings_for_config` for texts already read by `read_item_texts`."""
    spec = configured_encoder(config)
    digest = cache_fingerprint(spec.describe(), template.describe(), table.tokens, texts)
    store = EmbeddingStore(setting(config, "sem_embedding_dir"))
    cached = None if force else store.load(config["dataset"], spec.name, digest)
    if cached is not None:
        logger.info(f"reusing cached item vectors {cached.source}")
        return cached
    vectors, facts = encode_texts(spec, texts, int(setting(config, "sem_batch_size")), show_progress)
    meta = {"dataset": config["dataset"], "item_file": str(table.path), "model_path": spec.model_path,
            "encoder": spec.describe(),
            "template": template.describe(), **facts}
    return store.save(config["dataset"], spec.name, digest, table.tokens, vectors, meta)


def align_to_item_ids(stored: StoredEmbeddings, token2id: dict[str, int], item_num: int,
                      expected_dim: int | None = None) -> np.ndarray:
    """[item_num, d] matrix whose row i is the vector of the item RecBole numbers i; row 0 (padding) is zeros.

    Raises `EmbeddingDimensionError` when d differs from `expected_dim`, `MissingItemsError` when a dataset
    item has no vector (plus the checks of `validate_vectors`).
    """
    validate_vectors(stored.item_ids, stored.vectors, stored.source)
    dim = stored.vectors.shape[1]
    if expected_dim is not None and dim != expected_dim:
        raise EmbeddingDimensionError(f"{stored.source}: vectors have {dim} dimensions, sem_embedding_size is "
                                      f"{expected_dim}")
    row_of = {item_id: row for row, item_id in enumerate(stored.item_ids)}
    wanted = {token: index for token, index in token2id.items() if index != 0}
    missing = sorted(token for token in wanted if token not in row_of)
    if missing:
        raise MissingItemsError(f"{stored.source}: {len(missing)} of {len(wanted)} dataset items have no vector "
                                f"(e.g. {missing[:5]}); re-encode the dataset's .item file or fix sem_embedding_file")
    report_unused_vectors(stored, wanted)
    table = np.zeros((item_num, dim), dtype=np.float32)
    ids = np.fromiter(wanted.values(), dtype=np.int64, count=len(wanted))
    rows = np.fromiter((row_of[token] for token in wanted), dtype=np.int64, count=len(wanted))
    copy_rows(stored.vectors, rows, table, ids)
    report_zero_vectors(table, ids, list(wanted), stored.source)
    return table


def copy_rows(source: np.ndarray, rows: np.ndarray, target: np.ndarray, ids: np.ndarray) -> None:
    """target[ids] = source[rows], `ALIGN_CHUNK_ROWS` rows at a time: the gathered temporary stays small (at
    Amazon-M2 scale a whole-table gather would hold a third copy of the vectors, about 2 GB)."""
    for start in range(0, len(ids), ALIGN_CHUNK_ROWS):
        end = start + ALIGN_CHUNK_ROWS
        target[ids[start:end]] = source[rows[start:end]]


def report_unused_vectors(stored: StoredEmbeddings, wanted: dict[str, int]) -> None:
    """Log how many vectors belong to items the dataset does not know (they are not used)."""
    unknown = [item_id for item_id in stored.item_ids if item_id not in wanted]
    if unknown:
        logger.warning(f"{stored.source}: {len(unknown)} of {len(stored.item_ids)} vectors are for items the dataset "
                       f"does not know (e.g. {unknown[:5]}); they are not used")


def report_zero_vectors(table: np.ndarray, ids: np.ndarray, tokens: list[str], source: str) -> None:
    """Warn about dataset items whose vector is all zeros (they carry no text signal)."""
    zero = ~table.any(axis=1)[ids]
    if zero.any():
        examples = [tokens[index] for index in np.flatnonzero(zero)[:5]]
        logger.warning(f"{source}: {int(zero.sum())} of {len(tokens)} dataset items have an all-zero vector "
                       f"(e.g. {examples})")


def load_item_embeddings(config: Any, dataset: Any) -> torch.Tensor:
    """`FloatTensor[dataset.item_num, d2]`: row i = RecBole internal item id i, row 0 = zeros (padding)."""
    import torch

    item_field = config_value(config, "ITEM_ID_FIELD", "item_id")
    embedding_file = setting(config, "sem_embedding_file")
    if embedding_file:
        stored = read_itememb(embedding_file, item_field=item_field,
                              seq_separator=config_value(config, "seq_separator", " "))
    else:
        table, template, texts = read_item_texts(config)
        check_text_coverage(table, texts, dataset.field2token_id[item_field],
                            float(setting(config, "sem_max_textless_share")))
        stored = embed_item_texts(config, table, template, texts,
                                  show_progress=bool(config_value(config, "show_progress", True)))
    expected = setting(config, "sem_embedding_size")
    table = align_to_item_ids(stored, dataset.field2token_id[item_field], dataset.item_num,
                              None if expected is None else int(expected))
    return torch.from_numpy(table)
