"""Semantic item embeddings: item text templates, text encoders, the embedding cache and the RecBole-aligned loader.

`load_item_embeddings(config, dataset)` is the entry point for models; `get_encoder(name, model_path, **options)`
gives a `TextEncoder` for any other use (e.g. embedding generated titles). Heavy libraries load lazily.
"""
from recbole_semsr.embeddings.encoders import TextEncoder, encoder_spec, get_encoder
from recbole_semsr.embeddings.errors import (
    DuplicateItemError,
    EmbeddingDimensionError,
    EmbeddingError,
    EncoderModelNotFoundError,
    EncoderSettingsError,
    ItemFileError,
    MissingItemsError,
    NonFiniteEmbeddingError,
    TextCoverageError,
)
from recbole_semsr.embeddings.item_text import ItemTextTemplate
from recbole_semsr.embeddings.loader import item_embeddings_for_config, load_item_embeddings

__all__ = [
    "DuplicateItemError",
    "EmbeddingDimensionError",
    "EmbeddingError",
    "EncoderModelNotFoundError",
    "EncoderSettingsError",
    "ItemFileError",
    "ItemTextTemplate",
    "MissingItemsError",
    "NonFiniteEmbeddingError",
    "TextCoverageError",
    "TextEncoder",
    "encoder_spec",
    "get_encoder",
    "item_embeddings_for_config",
    "load_item_embeddings",
]
