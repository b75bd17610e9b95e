"""SemSR (Sec. 3.3): frozen LLM item vectors fused with any ID-based session model.

`fused(Base)` builds SemSR-F for a base model, `semantic_init(Base)` builds SemSR-I. A base model is any RecBole
`SequentialRecommender` whose `forward(item_seq, item_seq_len)` returns the session vector `s_m` and whose
`item_embedding` is the item table `I_m` (this package's `SessionModel`s refine that with `item_table()`); the
wrapper reads every base through one interface (`base.as_session_model`).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import SequentialRecommender
from torch import nn

from recbole_semsr.data.session_graph import position_mask, trim_padding
from recbole_semsr.embeddings import load_item_embeddings
from recbole_semsr.model.base import RecBoleSessionView, SessionModel, as_session_model
from recbole_semsr.model.layers import SoftAttentionReadout, gather_last, unit_rows


class LLMSessionEncoder(nn.Module):
    """s_l = W3 [s'; i_l,last] with s' = sum_j alpha_j i_l,j and alpha = softmax_j(q^T sigmoid(W1 i_l,last + W2 i_l,j + c)).

    As in the paper (Sec. 3.3.1), j runs over 1..|s|-1: the last item enters s_l only through the concatenation
    (a one-item session has s' = 0). `attend_last=True` (config `sem_attend_last`) lets j run up to |s|.
    """

    def __init__(self, llm_dim: int, attend_last: bool = False) -> None:
        super().__init__()
        self.readout = SoftAttentionReadout(llm_dim, llm_dim, softmax=True)
        self.attend_last = attend_last

    def forward(self, llm_items: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        """llm_items [B, L, d2] (LLM vectors of the session's items) -> s_l [B, d2]."""
        attended = item_seq_len if self.attend_last else item_seq_len - 1
        mask = position_mask(attended, llm_items.size(1))
        return self.readout(llm_items, gather_last(llm_items, item_seq_len), mask)


ITEM_PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}
TINY_ENTRY = 1e-30


def without_tiny_entries(vectors: torch.Tensor) -> torch.Tensor:
    """`vectors` as float32 with entries below 1e-30 in magnitude set to 0.

    Such an entry moves no dot product with the vector's other entries by a float32 step, but its products with
    small gradients are subnormal numbers, which x86 CPUs compute through slow microcode assists. MiniLM's Beauty
    vectors have two entries near 4e-38 per item: kept, they made SemNISER_F's CPU training step about 10% slower
    (bench/subnormal_flush_ab.py).
    """
    vectors = vectors.float()
    return torch.where(vectors.abs() < TINY_ENTRY, torch.zeros_like(vectors), vectors)


class SemanticFusion(nn.Module):
    """The fusion of Sec. 3.3.1: s = W4 [s_m; s_l] and I = W5 [I_m; I_l], with I_l frozen.

    W5 [I_m; I_l] is computed as W5_m I_m + W5_l I_l, so the n x (d1 + d2) concatenation is never built; I_l is a
    non-trainable buffer (not saved in checkpoints: it is re-derived from the embedding store).
    `item_precision="bf16"` stores I_l in bfloat16 and runs the two n x d item products in bfloat16 (their sum is
    returned in float32); everything else stays float32.
    """

    def __init__(self, llm_table: torch.Tensor, base_dim: int, fused_dim: int, attend_last: bool = False,
                 item_precision: str = "fp32") -> None:
        super().__init__()
        if item_precision not in ITEM_PRECISIONS:
            raise ValueError(f"sem_item_precision must be one of {sorted(ITEM_PRECISIONS)}, got {item_precision!r}")
        self.item_dtype = ITEM_PRECISIONS[item_precision]
        llm_dim = llm_table.size(1)
        self.register_buffer("llm_table", without_tiny_entries(llm_table).to(self.item_dtype), persistent=False)
        self.llm_session = LLMSessionEncoder(llm_dim, attend_last)
        self.session_projection = nn.Linear(base_dim + llm_dim, fused_dim, bias=False)
        self.item_projection_m = nn.Linear(base_dim, fused_dim, bias=False)
        self.item_projection_l = nn.Linear(llm_dim, fused_dim, bias=False)

    def session(self, base_session: torch.Tensor, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        """s = W4 [s_m; s_l]  [B, d]."""
        llm_items = self.llm_table[trim_padding(item_seq, item_seq_len)].float()
        llm_session = self.llm_session(llm_items, item_seq_len)
        return self.session_projection(torch.cat([base_session, llm_session], dim=-1))

    def items(self, base_items: torch.Tensor, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        """I = W5 [I_m; I_l] for all items ([n, d]) or for `item_ids`; `base_items` holds the matching I_m rows."""
        llm_items = self.llm_table if item_ids is None else self.llm_table[item_ids]
        if self.item_dtype == torch.float32:
            return self.item_projection_m(base_items) + self.item_projection_l(llm_items)
        return (F.linear(base_items.to(self.item_dtype), self.item_projection_m.weight.to(self.item_dtype))
                + F.linear(llm_items, self.item_projection_l.weight.to(self.item_dtype))).float()


class SemanticFusionModel(SessionModel):
    """SemSR-F around `base_model` (set by `fused`): logits = scale * <s, I_k> (Eq. 1), trained end to end.

    `sem_normalize` L2-normalises s and every I_k (NISER style) and `sem_logit_scale` multiplies the logits; left
    at `~` they follow the base model (`cosine_scores` and `logit_scale` of this package's models: NISER's sigma,
    MSGAT's scale; a plain dot product for RecBole's models).
    Outside training the fused item table is computed once and reused until the next `train()` (`scoring_table`).
    """

    base_model: type[SequentialRecommender]

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        self.base = self.base_model(config, dataset)
        base_dim = self.base.item_embedding.embedding_dim
        llm_table = load_item_embeddings(config, dataset)
        if config["sem_llm_dim"]:
            llm_table = reduce_llm_dimension(llm_table, int(config["sem_llm_dim"]), self.logger)
        self.fusion = SemanticFusion(llm_table, base_dim, config["sem_fused_size"] or base_dim,
                                     bool(config["sem_attend_last"]), config["sem_item_precision"] or "fp32")
        self.normalize = bool(_unless_none(config["sem_normalize"], self.base_view.cosine_scores))
        self.logit_scale = float(_unless_none(config["sem_logit_scale"], self.base_view.logit_scale))

    @property
    def base_view(self) -> SessionModel | RecBoleSessionView:
        """The base model through `SessionModel`'s interface (`forward`, `item_table`, `session_vector`,
        `logit_scale`, `cosine_scores`), whether it is this package's model or RecBole's."""
        return as_session_model(self.base)

    def _maybe_normalize(self, vectors: torch.Tensor) -> torch.Tensor:
        return unit_rows(vectors) if self.normalize else vectors

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        """s = W4 [s_m; s_l], optionally L2-normalised."""
        return self.fuse_session(self.base_view.forward(item_seq, item_seq_len), item_seq, item_seq_len)

    def session_vector(self, interaction) -> torch.Tensor:
        """As `forward`, with s_m from the base model's own `session_vector` (MSGAT reads the session ids there)."""
        base_session = self.base_view.session_vector(interaction)
        return self.fuse_session(base_session, interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])

    def fuse_session(self, base_session: torch.Tensor, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        return self._maybe_normalize(self.fusion.session(base_session, item_seq, item_seq_len))

    def item_table(self, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        """I = W5 [I_m; I_l], optionally L2-normalised (full ranking caches it outside training: `scoring_table`)."""
        if item_ids is not None:
            return self._maybe_normalize(self.fusion.items(self.base_view.item_table(item_ids), item_ids))
        return self._maybe_normalize(self.fusion.items(self.base_view.item_table()))


def _unless_none(value: Any, fallback: Any) -> Any:
    """`value`, or `fallback` when the setting is left at `~`."""
    return fallback if value is None else value


def truncated_svd_projection(vectors: torch.Tensor, dim: int) -> tuple[torch.Tensor, float]:
    """Rows of `vectors` in the basis of their top-`dim` right singular vectors, not centred ([n, dim]; fewer
    columns are zero-padded), and the share of the squared norm they keep. `V_k V_k^T` maps them back, so a
    weight W on the full vectors is matched by W V_k on the projected ones as far as the kept share allows."""
    _, singular_values, components = torch.linalg.svd(vectors.double(), full_matrices=False)
    energy = singular_values.square()
    kept = float(energy[:dim].sum() / energy.sum().clamp(min=1e-300))
    projected = (vectors.double() @ components[:dim].t()).float()
    return F.pad(projected, (0, dim - projected.size(1))), kept


def reduce_llm_dimension(llm_table: torch.Tensor, dim: int, logger: Any = None) -> torch.Tensor:
    """`sem_llm_dim`: I_l [n, d2] -> [n, dim] by `truncated_svd_projection` of the item rows (row 0, padding, stays
    zero): a faster, approximate SemSR-F (every n x d2 and d2 x d2 product shrinks by d2 / dim)."""
    if not 0 < dim <= llm_table.size(1):
        raise ValueError(f"sem_llm_dim must be between 1 and the LLM vector size {llm_table.size(1)}, got {dim}")
    reduced = llm_table.new_zeros(llm_table.size(0), dim)
    reduced[1:], kept = truncated_svd_projection(llm_table[1:], dim)
    if logger is not None:
        logger.info(f"sem_llm_dim: LLM item vectors reduced from {llm_table.size(1)} to {dim} dimensions "
                    f"(truncated SVD keeps {kept:.1%} of their squared norm)")
    return reduced


def pca_projection(vectors: torch.Tensor, dim: int) -> torch.Tensor:
    """Rows of `vectors` projected on their top-`dim` principal components ([n, dim]); fewer columns are zero-padded."""
    centred = vectors - vectors.mean(dim=0, keepdim=True)
    _, _, components = torch.linalg.svd(centred.double(), full_matrices=False)
    projected = (centred.double() @ components[:dim].t()).float()
    return F.pad(projected, (0, dim - projected.size(1)))


def initialise_from_llm(item_embedding: nn.Embedding, llm_table: torch.Tensor) -> None:
    """SemSR-I: item rows <- PCA of the LLM vectors to the table's width, rescaled to the table's initial std.

    Row 0 (padding) keeps its value. The rescaling keeps Adam's step size relative to the weights as for the
    base model's own initialisation.
    """
    weight = item_embedding.weight
    projected = pca_projection(llm_table[1:].to(weight.device), weight.size(1))
    projected = projected * (weight[1:].std() / projected.std().clamp(min=1e-12))
    with torch.no_grad():
        weight[1:] = projected


def fused(base: type[SequentialRecommender]) -> type[SemanticFusionModel]:
    """SemSR-F model class `Sem<Base>_F` around `base`."""
    return type(f"Sem{base.__name__}_F", (SemanticFusionModel,), {"base_model": base, "__doc__":
                f"SemSR-F (semantic fusion) around {base.__name__}."})


def semantic_init(base: type[SequentialRecommender]) -> type[SequentialRecommender]:
    """SemSR-I model class `Sem<Base>_I`: `base` whose item table starts from the LLM vectors, then trains."""

    def __init__(self, config, dataset) -> None:
        base.__init__(self, config, dataset)
        initialise_from_llm(self.item_embedding, load_item_embeddings(config, dataset))

    return type(f"Sem{base.__name__}_I", (base,), {"__init__": __init__, "base_model": base, "__doc__":
                f"SemSR-I (semantic initialisation) of {base.__name__}."})
