"""Items added after training, with text only (no interactions): what SemSR-F can do with them, and why the other
models cannot (docs/recommend.md, "New items").

A SemSR-F model scores item k by I_k = W5_m I_m,k + W5_l I_l,k. A new item's I_l is its text encoded with the
checkpoint's encoder and text template (`sem_encoder`, `sem_model_path`, `sem_encoder_options`,
`sem_text_template`, `sem_text_separator` of its stored config). Its ID embedding I_m is the zero vector, the
value of the padding row: the ID side has learned nothing about the item, and zero is the one vector that adds no
made-up ID evidence, so the item is scored through the LLM side alone (I_k = W5_l I_l,k, then normalised as the
model normalises). Inside a session the same zero row enters the base model, and the item's text enters the LLM
session encoder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recbole_semsr.embeddings.item_text import ItemTextTemplate, render_item_texts
from recbole_semsr.embeddings.loader import configured_encoder, encode_texts, read_item_table, setting
from recbole_semsr.model.nonneural import NonNeuralSessionModel
from recbole_semsr.model.semsr import SemanticFusionModel, without_tiny_entries


class NewItemsUnsupportedError(ValueError):
    """The model cannot score items without interactions."""


@dataclass
class NewItems:
    """Items of an item table that the model did not know, with their texts, and the rows left out."""

    tokens: list[str]
    texts: list[str]
    titles: dict[str, str | None]
    already_known: list[str] = field(default_factory=list)
    without_text: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {"added": len(self.tokens), "already_known": len(self.already_known),
                "without_text": len(self.without_text), "examples_without_text": self.without_text[:5]}


def refuse_new_items(model: torch.nn.Module, config: Any, item_file: str | Path) -> None:
    """Raise `NewItemsUnsupportedError` (one line) unless `model` (built with `config`) can score items that have
    text only."""
    name = type(model).__name__
    if isinstance(model, SemanticFusionModel):
        if config["sem_embedding_file"]:
            raise NewItemsUnsupportedError(
                f"{name} read its item vectors from sem_embedding_file, so there is no encoder to encode the new "
                f"items of {item_file}; train it from the dataset's item text to add items later")
        if config["sem_llm_dim"]:
            raise NewItemsUnsupportedError(
                f"{name} was trained with sem_llm_dim (item vectors reduced by an SVD of the training items), which "
                f"the checkpoint does not keep; new items ({item_file}) need a model trained without it")
        return
    if getattr(model, "base_model", None) is not None:
        reason = ("is SemSR-I: its item rows started from the LLM vectors and then trained, and no text side is left "
                  "to place an item that has text only")
    elif isinstance(model, NonNeuralSessionModel):
        reason = "scores an item by the training sessions it occurs in, and a new item occurs in none"
    else:
        reason = "scores items by ID embeddings learned from interactions, and a new item has none"
    raise NewItemsUnsupportedError(f"{name} cannot score items without interactions ({item_file}): it {reason}; "
                                   "SemSR-F models (e.g. SemNISER_F) can")


def read_new_items(config: Any, item_file: str | Path, known: dict[str, int],
                   title_field: str | None) -> NewItems:
    """The items of `item_file` (the sessions converter's `.item` format) that are not in `known`, their texts
    by the checkpoint's template; known ids and items whose text comes out empty are left out and counted."""
    table = read_item_table(config, item_file)
    texts = render_item_texts(table, ItemTextTemplate.from_config(config))
    found = NewItems(tokens=[], texts=[], titles={})
    for token, text in zip(table.tokens, texts):
        if token in known:
            found.already_known.append(token)
        elif not text:
            found.without_text.append(token)
        else:
            found.tokens.append(token)
            found.texts.append(text)
            found.titles[token] = table.values[token].get(title_field) if title_field else None
    return found


def encode_new_items(config: Any, texts: list[str]) -> torch.Tensor:
    """[len(texts), d2] the texts encoded with the checkpoint's encoder."""
    vectors, _ = encode_texts(configured_encoder(config), texts, int(setting(config, "sem_batch_size")),
                              show_progress=False)
    return torch.from_numpy(vectors)


def extend_with_new_items(model: SemanticFusionModel, vectors: torch.Tensor) -> None:
    """Append items to a SemSR-F model: their LLM vectors to I_l, zero rows to the base model's ID table."""
    fusion, base = model.fusion, model.base
    fusion.llm_table = torch.cat([fusion.llm_table, without_tiny_entries(vectors).to(fusion.llm_table)])
    weight = base.item_embedding.weight.detach()
    rows = torch.cat([weight, weight.new_zeros(len(vectors), weight.size(1))])
    base.item_embedding = nn.Embedding.from_pretrained(rows, freeze=True, padding_idx=0)
    base.n_items = model.n_items = rows.size(0)
    model.train(False)


def zero_id_rows(model: SemanticFusionModel, item_ids: torch.Tensor) -> None:
    """Score known items as new ones: their ID rows in the base model set to zero (`extend_with_new_items`'
    stand-in), so that they are scored through the LLM side alone; the cached item table is rebuilt."""
    with torch.no_grad():
        model.base.item_embedding.weight[item_ids.to(model.base.item_embedding.weight.device)] = 0
    model.train(False)
