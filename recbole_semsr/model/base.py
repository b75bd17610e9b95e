"""Base class of this package's session models: loss and ranking written once on top of three methods."""
from __future__ import annotations

import torch
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import InputType
from torch import nn


class SessionModel(SequentialRecommender):
    """A session recommender scoring every item by `logit_scale * <session vector, item vector>`.

    Subclasses implement `forward(item_seq, item_seq_len) -> [B, d]` and may override `item_table` (default: the
    rows of `self.item_embedding`), `logit_scale` (default 1) and `cosine_scores` (True when `forward` and
    `item_table` return L2-normalised vectors, so that a SemSR-F wrapper normalises its fused vectors too). Training is cross-entropy over all items; both
    `predict` and `full_sort_predict` use the very logits that training optimises.
    """

    input_type = InputType.POINTWISE
    logit_scale: float = 1.0
    cosine_scores: bool = False

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        self.loss_fct = nn.CrossEntropyLoss()
        self._cached_items: torch.Tensor | None = None

    def train(self, mode: bool = True) -> "SessionModel":
        self._cached_items = None
        return super().train(mode)

    def item_table(self, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Item vectors used for scoring: all items [n_items, d], or the rows of `item_ids`."""
        weight = self.item_embedding.weight
        return weight if item_ids is None else weight[item_ids]

    def remember_training_batch(self) -> None:
        """Called by the trainer after each training batch's loss; models that keep state across batches (MSGAT's
        memory of training sessions) update it here, never inside `forward`."""

    def session_vector(self, interaction) -> torch.Tensor:
        return self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])

    def scoring_table(self) -> torch.Tensor:
        """`item_table()` of every item; outside training (no gradients) computed once and reused until the next
        `train()` or `eval()` (the evaluator and the Recommender call `eval()` after loading weights). NISER's
        L2 normalisation of 500,000 rows took most of a one-session request at Amazon-M2 scale."""
        if self.training or torch.is_grad_enabled():
            return self.item_table()
        if self._cached_items is None:
            self._cached_items = self.item_table()
        return self._cached_items

    def full_sort_predict(self, interaction) -> torch.Tensor:
        """[B, n_items] logits over every item (the scale multiplies the B x d session vectors, not the B x n
        logits)."""
        return (self.logit_scale * self.session_vector(interaction)) @ self.scoring_table().t()

    def predict(self, interaction) -> torch.Tensor:
        """[B] logit of each row's candidate item."""
        items = self.item_table(interaction[self.ITEM_ID])
        return self.logit_scale * (self.session_vector(interaction) * items).sum(dim=-1)

    def calculate_loss(self, interaction) -> torch.Tensor:
        """Cross-entropy of the softmax over all items (Eq. 1) against the next item."""
        return self.loss_fct(self.full_sort_predict(interaction), interaction[self.POS_ITEM_ID])


class RecBoleSessionView:
    """`SessionModel`'s scoring interface over a RecBole sequential model whose `forward(item_seq, item_seq_len)`
    returns the session vector and whose `item_embedding` is the item table: plain dot products (scale 1).

    A view, not a module: the wrapped model stays where its owner registered it, so parameter names (and the
    checkpoints that hold them) do not change.
    """

    logit_scale: float = 1.0
    cosine_scores: bool = False

    def __init__(self, model: SequentialRecommender) -> None:
        self.model = model

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        return self.model.forward(item_seq, item_seq_len)

    def item_table(self, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        weight = self.model.item_embedding.weight
        return weight if item_ids is None else weight[item_ids]

    def session_vector(self, interaction) -> torch.Tensor:
        return self.forward(interaction[self.model.ITEM_SEQ], interaction[self.model.ITEM_SEQ_LEN])


def as_session_model(model: SequentialRecommender) -> SessionModel | RecBoleSessionView:
    """`model` itself when it is a `SessionModel`, else its `RecBoleSessionView`: one interface for any base."""
    return model if isinstance(model, SessionModel) else RecBoleSessionView(model)


def remember_training_batch(model: nn.Module) -> None:
    """`remember_training_batch()` of every session model inside `model` (a Sem wrapper holds its base model)."""
    for module in model.modules():
        if isinstance(module, SessionModel):
            module.remember_training_batch()


class CosineGraphModel(SessionModel):
    """A `SessionModel` over each session's item graph scored by scaled cosine (NISER, MSGAT): `step` gated-graph
    steps, and `logit_scale` read from the model's own setting named by `scale_setting`."""

    cosine_scores = True
    scale_setting = "sigma"

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        self.step = config["step"]
        self.logit_scale = float(config[self.scale_setting])
