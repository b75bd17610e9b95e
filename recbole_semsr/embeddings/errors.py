"""Errors raised by the semantic item-embedding pipeline (all are `ValueError`s with a precise message)."""
from __future__ import annotations


class EmbeddingError(ValueError):
    """Base class: something about item texts or item vectors is wrong."""


class ItemFileError(EmbeddingError):
    """The `.item` atomic file (or an `.itememb` file) cannot be read: names the file, line and what was expected."""


class DuplicateItemError(EmbeddingError):
    """The same item id appears twice in an item or embedding file."""


class MissingItemsError(EmbeddingError):
    """Items known to the RecBole dataset have no vector."""


class EmbeddingDimensionError(EmbeddingError):
    """Vectors do not have the expected dimension (or rows disagree with each other)."""


class NonFiniteEmbeddingError(EmbeddingError):
    """A vector contains NaN or infinity."""


class EncoderModelNotFoundError(EmbeddingError):
    """A model name is not a local directory and could not be fetched from the Hugging Face hub."""


class EncoderSettingsError(EmbeddingError):
    """An unknown encoder, an option it does not take, or options that contradict each other."""


class TextCoverageError(EmbeddingError):
    """Most of a dataset's items have no text (`sem_max_textless_share`): a Sem model would learn from one vector."""
