"""Recommendations from a trained checkpoint for sessions given as raw item ids (docs/recommend.md).

    rec = Recommender.load("saved/SemNISER_F-....pth")
    rec.recommend(["B0009RF9DW", "B000142FVW"], k=20)

The model is rebuilt from the checkpoint's own config on the RecBole dataset it was trained on (found through the
checkpoint's data record and refused, with one line, when its files are missing or differ); the non-neural
baselines are fitted again from the same training file. Items already in the session are excluded by default.
Ids the model does not know are skipped and counted; a session without a single known id gets the most popular
training items (`fallback: "popularity"`), and a session made only of new items added with text (SemSR-F,
`add_items`) is scored through the text side (`fallback: "text"`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from recbole.data import create_dataset
from recbole.data.interaction import Interaction
from recbole.utils import init_seed

from recbole_semsr.config import SemSRConfig, dataset_dir, plain_config
from recbole_semsr.data.training_sessions import training_sessions
from recbole_semsr.embeddings.item_text import config_value
from recbole_semsr.embeddings.loader import item_file_path, read_item_table
from recbole_semsr.model import get_model
from recbole_semsr.model.nonneural import item_event_counts, popularity_tie_rank
from recbole_semsr.new_items import (
    NewItemsUnsupportedError,
    encode_new_items,
    extend_with_new_items,
    read_new_items,
    refuse_new_items,
    zero_id_rows,
)
from recbole_semsr.provenance import (
    PROVENANCE_KEY,
    check_checkpoint_data,
    data_provenance,
    load_weights,
    read_checkpoint,
)
from recbole_semsr.rerank import mask_session_items

RUN_ONLY_KEYS = frozenset({"data_path", "device", "checkpoint_dir", "model_file", "resume_file", "rerank_with",
                           "show_progress"})
"""Saved settings that describe the training run, not the model: never carried into the rebuilt config."""


__all__ = ["NewItemsUnsupportedError", "Recommendation", "RecommendError", "Recommender"]

MISSING = object()


class RecommendError(ValueError):
    """A request the recommender cannot serve (bad k, missing data files, new items for a model that cannot score
    them): one line saying why."""


@dataclass
class Recommendation:
    """Top-k raw item ids of one session, best first, with their scores (and titles where the dataset has an item
    table); `unknown` lists the session's ids the model does not know (skipped), `fallback` says how a session
    without known ids was served ("popularity", "text") and is None otherwise."""

    items: list[str]
    scores: list[float]
    titles: list[str | None] | None = None
    unknown: list[str] = field(default_factory=list)
    fallback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        record = {"items": self.items, "scores": self.scores, "unknown": self.unknown, "fallback": self.fallback}
        if self.titles is not None:
            record["titles"] = self.titles
        return record


@dataclass
class ParsedSession:
    """A session as internal ids (known and new items, in order) and the raw ids that were skipped."""

    ids: list[int]
    unknown: list[str]
    only_new_items: bool


@dataclass
class RebuiltModel:
    """A checkpoint's model rebuilt on its data: the model, its config and the RecBole datasets."""

    model: torch.nn.Module
    config: SemSRConfig
    dataset: Any
    train_dataset: Any
    checkpoint: Path


class Recommender:
    """Top-k recommendations of a trained model (optionally re-ranked by a second one, the "+" pairs)."""

    def __init__(self, base: RebuiltModel, reranker: RebuiltModel | None = None) -> None:
        self.base, self.reranker = base, reranker
        self.config = base.config
        item_field = self.config["ITEM_ID_FIELD"]
        self.tokens: list[str] = [str(token) for token in base.dataset.field2id_token[item_field]]
        self.token_to_id: dict[str, int] = {token: index for index, token in enumerate(self.tokens) if index}
        self.n_trained_items = len(self.tokens)
        self.max_length = int(self.config["MAX_ITEM_LIST_LENGTH"])
        self.device = self.config["device"]
        sessions = training_sessions(base.train_dataset)
        self.popularity = item_event_counts(sessions)
        self.popular_order = np.argsort(-popularity_tie_rank(sessions)[1:], kind="stable") + 1
        self.title_field = config_value(self.config, "recommend_title_field")
        self.titles = read_titles(self.config, self.title_field)

    @classmethod
    def load(cls, checkpoint: str | Path, rerank_with: str | Path | None = None, data_path: str | Path | None = None,
             device: str | None = None) -> Recommender:
        """The model of a runner checkpoint (any model of the package, the baselines included), rebuilt on the data
        it was trained on; `rerank_with` a second checkpoint on the same data reorders each top-k list ("+").
        `data_path` is the folder holding `<dataset>/` when it moved since training (default: where it was);
        `device` ("cpu", "cuda") overrides the checkpoint's."""
        base = rebuild_model(checkpoint, data_path, device)
        reranker = None if rerank_with is None else rebuild_model(rerank_with, data_path, device, base)
        return cls(base, reranker)

    @property
    def model_name(self) -> str:
        name = type(self.base.model).__name__
        return name if self.reranker is None else f"{name}+{type(self.reranker.model).__name__}"

    @property
    def n_items(self) -> int:
        """Items that can be recommended (trained ones and new ones added with text; padding excluded)."""
        return len(self.tokens) - 1

    def recommend(self, session: Sequence[str], k: int = 20, exclude_session_items: bool = True) -> Recommendation:
        """Top-`k` items for one session of raw item ids (oldest first)."""
        return self.recommend_batch([session], k, exclude_session_items)[0]

    def recommend_batch(self, sessions: Iterable[Sequence[str]], k: int = 20, exclude_session_items: bool = True,
                        batch_size: int = 100) -> list[Recommendation]:
        """`recommend` for many sessions, scored `batch_size` sessions at a time."""
        self.check_k(k)
        parsed = [self.parse_session(session) for session in sessions]
        results: list[Recommendation | None] = [None] * len(parsed)
        scored = [row for row, session in enumerate(parsed) if session.ids]
        for start in range(0, len(scored), batch_size):
            rows = scored[start:start + batch_size]
            top_ids, top_scores = self.top_k([parsed[row].ids for row in rows], k, exclude_session_items)
            for row, ids, scores in zip(rows, top_ids, top_scores):
                fallback = "text" if parsed[row].only_new_items else None
                results[row] = self.recommendation(ids, scores, parsed[row].unknown, fallback)
        for row, session in enumerate(parsed):
            if results[row] is None:
                results[row] = self.popular(k, session.unknown)
        return results

    def check_k(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or not 0 < k <= self.n_items:
            raise RecommendError(f"k must be an integer from 1 to the number of items ({self.n_items}), got {k!r}")

    def parse_session(self, session: Sequence[str]) -> ParsedSession:
        """Internal ids of the known (and added) items of `session`, in order, and the ids that were skipped."""
        if isinstance(session, str):
            raise RecommendError(f"a session is a list of item ids, got the string {session!r}")
        ids, unknown = [], []
        for raw in session:
            index = self.token_to_id.get(str(raw))
            if index is None:
                unknown.append(str(raw))
            else:
                ids.append(index)
        only_new = bool(ids) and min(ids) >= self.n_trained_items
        return ParsedSession(ids=ids, unknown=unknown, only_new_items=only_new)

    def interaction(self, sessions: list[list[int]]) -> Interaction:
        """The sessions as the models read them: the most recent `MAX_ITEM_LIST_LENGTH` ids, left-aligned,
        0-padded to that length, as RecBole's dataloaders hand them."""
        model = self.base.model
        item_seq = torch.zeros(len(sessions), self.max_length, dtype=torch.long)
        for row, ids in enumerate(sessions):
            recent = ids[-self.max_length:]
            item_seq[row, :len(recent)] = torch.tensor(recent)
        lengths = torch.tensor([min(len(ids), self.max_length) for ids in sessions])
        return Interaction({model.ITEM_SEQ: item_seq, model.ITEM_SEQ_LEN: lengths}).to(self.device)

    @torch.no_grad()
    def scores(self, sessions: list[list[int]],
               exclude_session_items: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """[B, n_items + 1] scores of the base model (padding and, optionally, the sessions' items at -inf) and of
        the re-ranker (None without one)."""
        interaction = self.interaction(sessions)
        scores = self.base.model.full_sort_predict(interaction).view(len(sessions), -1)
        scores[:, 0] = -torch.inf
        if exclude_session_items:
            mask_session_items(scores, padded(sessions).to(scores.device))
        rerank = None
        if self.reranker is not None:
            rerank = self.reranker.model.full_sort_predict(interaction).view(len(sessions), -1)
        return scores, rerank

    def top_k(self, sessions: list[list[int]], k: int, exclude_session_items: bool) -> tuple[list, list]:
        """Per session: the top-`k` internal ids and their scores (the re-ranker's in a "+" pair), dropping
        candidates that were masked (a session that holds nearly every item)."""
        scores, rerank = self.scores(sessions, exclude_session_items)
        values, indices = scores.topk(k, dim=1)
        if rerank is not None:
            order = rerank.gather(1, indices).argsort(dim=1, descending=True, stable=True)
            indices, masked = indices.gather(1, order), values.gather(1, order) == -torch.inf
            values = rerank.gather(1, indices).masked_fill(masked, -torch.inf)
        keep = values > -torch.inf
        return ([row[mask].tolist() for row, mask in zip(indices.cpu(), keep.cpu())],
                [row[mask].tolist() for row, mask in zip(values.double().cpu(), keep.cpu())])

    def popular(self, k: int, unknown: list[str]) -> Recommendation:
        """The `k` items with the most training events (ties: as POP breaks them), for a session with no known id;
        items added after training have none and come last."""
        order = np.concatenate([self.popular_order, np.arange(self.n_trained_items, len(self.tokens))])[:k]
        counts = np.concatenate([self.popularity, np.zeros(len(self.tokens) - self.n_trained_items)])
        return self.recommendation(order.tolist(), counts[order].tolist(), unknown, "popularity")

    def recommendation(self, ids: list[int], scores: list[float], unknown: list[str],
                       fallback: str | None) -> Recommendation:
        items = [self.tokens[index] for index in ids]
        titles = None if self.titles is None else [self.titles.get(item) for item in items]
        return Recommendation(items=items, scores=[float(score) for score in scores], titles=titles,
                              unknown=unknown, fallback=fallback)

    def add_items(self, item_file: str | Path) -> dict[str, Any]:
        """Add the items of an item table (the sessions converter's `.item` format) that the model does not know:
        encoded with the checkpoint's encoder and template, they can be recommended and read in sessions from now
        on. SemSR-F models only (`NewItemsUnsupportedError` otherwise, before anything is read). Returns the counts
        added, already known and without text (both left out)."""
        models = [self.base] + ([self.reranker] if self.reranker is not None else [])
        for rebuilt in models:
            refuse_new_items(rebuilt.model, rebuilt.config, item_file)
        found = read_new_items(self.config, item_file, self.token_to_id, self.title_field)
        if found.tokens:
            for rebuilt in models:
                extend_with_new_items(rebuilt.model, encode_new_items(rebuilt.config, found.texts).to(self.device))
            self.token_to_id.update({token: len(self.tokens) + row for row, token in enumerate(found.tokens)})
            self.tokens += found.tokens
            if self.titles is not None:
                self.titles.update(found.titles)
        return found.report()

    def score_as_new_items(self, item_ids: Iterable[str]) -> int:
        """Score these known raw ids as items added after training would be (ID rows zero, as in `add_items`): the
        cold-start evaluation of items held out of training (`bench/cold_start_new_items.py`). SemSR-F models only
        (`NewItemsUnsupportedError` otherwise). Returns how many of the ids the model knows (the others are left)."""
        models = [self.base] + ([self.reranker] if self.reranker is not None else [])
        for rebuilt in models:
            refuse_new_items(rebuilt.model, rebuilt.config, "items scored as new")
        known = torch.tensor([self.token_to_id[token] for token in item_ids if token in self.token_to_id],
                             dtype=torch.long)
        for rebuilt in models:
            zero_id_rows(rebuilt.model, known)
        return len(known)

    def describe(self) -> dict[str, Any]:
        """Model, dataset and catalogue size (for logs and the service's health answer)."""
        return {"model": self.model_name, "dataset": self.config["dataset"], "n_items": self.n_items,
                "new_items": len(self.tokens) - self.n_trained_items,
                "checkpoint": str(self.base.checkpoint), "data_folder": str(dataset_dir(self.config))}


def padded(sessions: list[list[int]]) -> torch.Tensor:
    """[B, longest] the whole sessions, left-aligned, 0-padded (for masking every item of a session)."""
    table = torch.zeros(len(sessions), max(len(ids) for ids in sessions), dtype=torch.long)
    for row, ids in enumerate(sessions):
        table[row, :len(ids)] = torch.tensor(ids)
    return table


def read_titles(config: Any, title_field: str | None) -> dict[str, str | None] | None:
    """Item id -> title from the dataset's `.item` file; None without the file or the column."""
    path = item_file_path(config)
    if not title_field or not path.is_file():
        return None
    table = read_item_table(config, path)
    if title_field not in table.field_types:
        return None
    return {token: values.get(title_field) for token, values in table.values.items()}


def rebuild_model(checkpoint: str | Path, data_path: str | Path | None = None, device: str | None = None,
                  same_data_as: RebuiltModel | None = None) -> RebuiltModel:
    """The model saved in a runner checkpoint, rebuilt with its own settings on the data it was trained on.

    Refuses (one line) a checkpoint whose data files are missing, or whose data record differs from the files
    found; with `same_data_as`, the checkpoint must have been trained on that model's data (a "+" pair).
    """
    checkpoint = Path(checkpoint)
    state = read_checkpoint(checkpoint)
    saved = state["config"]
    config = rebuilt_config(saved, data_folder(checkpoint, state, data_path), device)
    if same_data_as is None:
        init_seed(config["seed"], config["reproducibility"])
        dataset = create_dataset(config)
        train_dataset = dataset.build()[0]
    else:
        dataset, train_dataset = same_data_as.dataset, same_data_as.train_dataset
    check_checkpoint_data(state, checkpoint, data_provenance(config, dataset), allow=False)
    init_seed(config["seed"], config["reproducibility"])
    model = get_model(saved["model"])(config, train_dataset).to(config["device"])
    load_weights(model, state["state_dict"], checkpoint)
    return RebuiltModel(model=model.eval(), config=config, dataset=dataset, train_dataset=train_dataset,
                        checkpoint=checkpoint)


def data_folder(checkpoint: Path, state: dict[str, Any], data_path: str | Path | None) -> Path:
    """The folder of the checkpoint's dataset (`<data_path>/<dataset>`, else where it was at training), refused
    with one line naming the missing files."""
    saved = state["config"]
    record = state.get(PROVENANCE_KEY) or {}
    folder = Path(data_path) / saved["dataset"] if data_path is not None else dataset_dir(saved)
    names = sorted(record.get("files") or {})
    if not names:
        raise RecommendError(f"{checkpoint}: the checkpoint records no data files (saved before data fingerprints "
                             "existed); train it again")
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise RecommendError(f"{checkpoint}: data files not found in {folder}: {', '.join(missing)} (the dataset "
                             f"{saved['dataset']!r} it was trained on; pass the folder holding "
                             f"{saved['dataset']}/ as data_path)")
    return folder


def rebuilt_config(saved: dict[str, Any], folder: Path, device: str | None) -> SemSRConfig:
    """The checkpoint's config: this package's defaults for its model and dataset, with every saved value that
    differs from them (the run's overrides) put back, except the run-only keys."""
    model_class, dataset = get_model(saved["model"]), saved["dataset"]
    location = {"data_path": str(folder.parent), "show_progress": False}
    if device is not None:
        location["use_gpu"] = device != "cpu"
    defaults = plain_config(SemSRConfig(model_class, dataset, config_dict=location))
    overrides = {key: value for key, value in saved.items()
                 if key not in RUN_ONLY_KEYS and defaults.get(key, MISSING) != value}
    return SemSRConfig(model_class, dataset, config_dict={**overrides, **location})
