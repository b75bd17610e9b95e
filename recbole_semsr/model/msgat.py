"""MSGAT (Qiao et al., CIKM 2023): bi-channel multiple sparse graph attention networks.

Intra-session channel: a gated graph cell over [item; node-position] features, multi-head self-attention with
alpha-entmax (one learned alpha per head and session) that writes a *target token*, and a sparse global attention
steered by that target. Inter-session channel: a session-overlap (Jaccard) graph whose normalised average of session
item sums forms the relation vector, and an intent-neighbour step that adds the top-k most similar sessions.
Scores are `scale * <session, L2-normalised item>`.

The official code draws both inter-session parts from the other sessions of the *same batch*. With incremental
(prefix) sessions a test batch then holds longer prefixes of the test session, which contain its target, and a test
score depends on how the test set is batched. `msgat_neighbour_source: memory` (default) draws them instead from a
fixed-size memory of training sessions, so a test score never depends on other test sessions; `batch` reproduces the
official behaviour (leaky at evaluation, for reproduction only). See docs/msgat.md.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from recbole_semsr.data.session_graph import PackedSessionGraph, build_packed_graph, position_mask, trim_padding
from recbole_semsr.model.base import CosineGraphModel
from recbole_semsr.model.entmax import entmax_alpha
from recbole_semsr.model.layers import GatedGraphCell, gather_last, uniform_init, unit_rows

NEIGHBOUR_SOURCES = ("memory", "batch")
_ALPHA_FLOOR = 1.0 + 1e-5  # alpha-entmax needs alpha > 1; the official code lifts an exact 1 to 1.00001


def learned_entmax_alpha(projection: nn.Linear, features: torch.Tensor) -> torch.Tensor:
    """alpha = 1 + sigmoid(w^T x + b), in (1, 2): between softmax (1) and sparsemax (2)."""
    return (1.0 + torch.sigmoid(projection(features))).clamp(min=_ALPHA_FLOOR)


def clamp_row_norms(vectors: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Vectors (last dim) rescaled to norm <= max_norm, as `nn.Embedding(max_norm=...)` does to looked-up rows, but
    without editing the parameter in place (an in-place renorm at evaluation would make one batch's lookups change
    the next batch's scores). The rescaling factor is a constant for autograd, as in the in-place renorm."""
    norms = vectors.detach().norm(dim=-1, keepdim=True)
    return vectors * (max_norm / norms.clamp(min=max_norm))


class RowSelection:
    """The True cells of a mask [B, T]: row-wise layers run on those rows of a [B, T, D] tensor only (padding costs
    nothing), and `put` returns their results to a [B, T, D'] tensor that is 0 elsewhere."""

    def __init__(self, mask: torch.Tensor) -> None:
        self.shape = mask.shape
        self.index = mask.flatten().nonzero().squeeze(1)

    @property
    def batch_index(self) -> torch.Tensor:
        """[R] the batch row of each selected cell."""
        return self.index // self.shape[1]

    def take(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, D] -> [R, D]."""
        return x.flatten(0, 1).index_select(0, self.index)

    def put(self, rows: torch.Tensor) -> torch.Tensor:
        """[R, D] -> [B, T, D], zero outside the mask."""
        cells = rows.new_zeros(self.shape[0] * self.shape[1], rows.size(-1)).index_copy(0, self.index, rows)
        return cells.view(*self.shape, rows.size(-1))


class TargetSelfAttention(nn.Module):
    """Sparse multi-head self-attention over the session positions plus an appended target token.

    Queries are `dropout(relu(W x))`, keys and values the positions themselves; each head normalises its scores with
    alpha-entmax, alpha learned from that head's target query. A residual feed-forward block and layer norm follow.
    The target token's output is the session's target representation.
    """

    def __init__(self, dim: int, n_heads: int, dropout: float, entmax_iter: int) -> None:
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"MSGAT: 2 * embedding_size = {dim} is not divisible by n_heads = {n_heads}")
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.entmax_iter = entmax_iter
        self.query = nn.Linear(dim, dim)
        self.head_alpha = nn.Linear(self.head_dim, 1)
        self.ffn_in = nn.Linear(dim, dim)
        self.ffn_out = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, H * h] -> [B, H, T, h]."""
        return x.view(x.size(0), x.size(1), self.n_heads, self.head_dim).transpose(1, 2)

    def attention_weights(
        self, tokens: torch.Tensor, key_mask: torch.Tensor, rows: RowSelection | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """alpha-entmax weights [B, H, T, T] and the per-head values [B, H, T, h].

        Only the unmasked tokens attend: their rows of weights are 0 on masked keys and sum to 1; a masked token's
        row is all 0 (its query is neither projected nor normalised).
        """
        rows = rows or RowSelection(key_mask)
        batch_size, length, _ = tokens.shape
        queries = self.split_heads(rows.put(self.dropout(torch.relu(self.query(rows.take(tokens))))))
        values = self.split_heads(tokens)
        scores = queries @ values.transpose(-1, -2) / math.sqrt(self.head_dim)
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        alpha = learned_entmax_alpha(self.head_alpha, queries[:, :, -1, :])  # [B, H, 1]: from the target's query
        attending = rows.take(scores.transpose(1, 2).flatten(2)).view(-1, self.n_heads, length)  # [R, H, T]
        weights = entmax_alpha(attending, alpha.index_select(0, rows.batch_index), self.entmax_iter)
        weights = rows.put(weights.flatten(1)).view(batch_size, length, self.n_heads, length).transpose(1, 2)
        return weights, values

    def forward(self, tokens: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """tokens [B, T, D] (target token last), key_mask [B, T] -> [B, T, D]; 0 at masked tokens (not computed)."""
        rows = RowSelection(key_mask)
        weights, values = self.attention_weights(tokens, key_mask, rows)
        context = rows.take((weights @ values).transpose(1, 2).reshape(tokens.shape))
        context = context + self.dropout(self.ffn_out(torch.relu(self.ffn_in(context))))
        return rows.put(self.norm(context))


class TargetGlobalAttention(nn.Module):
    """Sparse global attention: beta_j = alpha-entmax_j(w0^T relu(W1 k_j + W2 t + b)), alpha from the target t."""

    def __init__(self, dim: int, entmax_iter: int) -> None:
        super().__init__()
        self.key = nn.Linear(dim, dim, bias=False)
        self.target = nn.Linear(dim, dim)
        self.score = nn.Linear(dim, 1, bias=False)
        self.alpha = nn.Linear(dim, 1)
        self.entmax_iter = entmax_iter

    def attention_weights(self, keys: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """keys [B, L, D], target [B, D], mask [B, L] -> weights [B, L] (zero where masked, rows sum to 1).

        Keys are projected at the unmasked positions only."""
        rows = RowSelection(mask)
        hidden = torch.relu(self.key(rows.take(keys)) + self.target(target).index_select(0, rows.batch_index))
        scores = rows.put(self.score(hidden)).squeeze(-1).masked_fill(~mask, float("-inf"))
        alpha = learned_entmax_alpha(self.alpha, target)  # [B, 1]
        return entmax_alpha(scores, alpha, self.entmax_iter)

    def forward(
        self, keys: torch.Tensor, values: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """-> [B, D] = sum_j beta_j v_j."""
        return (self.attention_weights(keys, target, mask).unsqueeze(-1) * values).sum(dim=1)


def padded_session_nodes(graph: PackedSessionGraph, batch_size: int, width: int) -> torch.Tensor:
    """[B, width]: each session's node item ids in slot order, 0-padded (the dense graph's `nodes`)."""
    nodes = graph.nodes.new_zeros(batch_size, width)
    session = (graph.node_slot == 0).cumsum(dim=0) - 1  # every session has at least one node, slot 0 first
    nodes[session, graph.node_slot] = graph.nodes
    return nodes


def jaccard_overlap(query_nodes: torch.Tensor, candidate_nodes: torch.Tensor) -> torch.Tensor:
    """|S_i & C_j| / |S_i | C_j| between the item sets of query sessions [B, N] and candidates [M, N'] -> [B, M].

    Rows hold each session's distinct items with 0 as padding (the `nodes` of a session graph). The intersection is a
    sparse product over the items that occur in the query batch, so memory stays O(B * M).
    """
    query_valid, candidate_valid = query_nodes > 0, candidate_nodes > 0
    vocabulary = torch.unique(query_nodes[query_valid])
    overlap = query_nodes.new_zeros((query_nodes.size(0), candidate_nodes.size(0)), dtype=torch.float)
    if vocabulary.numel() == 0 or candidate_nodes.numel() == 0:
        return overlap
    query_hot = overlap.new_zeros((query_nodes.size(0), vocabulary.numel()))
    query_rows = torch.arange(query_nodes.size(0), device=query_nodes.device).unsqueeze(1).expand_as(query_nodes)
    query_hot[query_rows[query_valid], torch.searchsorted(vocabulary, query_nodes[query_valid])] = 1.0
    column = torch.searchsorted(vocabulary, candidate_nodes).clamp(max=vocabulary.numel() - 1)
    shared = candidate_valid & (vocabulary[column] == candidate_nodes)
    candidate_rows = torch.arange(candidate_nodes.size(0), device=candidate_nodes.device)
    candidate_rows = candidate_rows.unsqueeze(1).expand_as(candidate_nodes)
    candidate_hot = torch.sparse_coo_tensor(
        torch.stack([candidate_rows[shared], column[shared]]),
        overlap.new_ones(int(shared.sum())),
        (candidate_nodes.size(0), vocabulary.numel()),
        check_invariants=False,  # indices are in range by construction
    )
    intersection = torch.sparse.mm(candidate_hot, query_hot.t()).t()
    union = query_valid.sum(1, keepdim=True) + candidate_valid.sum(1).unsqueeze(0) - intersection
    return torch.where(union > 0, intersection / union.clamp(min=1), overlap)


def session_overlap_graph(nodes: torch.Tensor) -> torch.Tensor:
    """Row-normalised overlap graph of a batch, D^-1 A with A_ij = Jaccard(S_i, S_j) and A_ii = 1 [B, B]."""
    overlap = jaccard_overlap(nodes, nodes)
    overlap.fill_diagonal_(1.0)
    return overlap / overlap.sum(dim=1, keepdim=True)


def top_k_neighbour_weights(similarity: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Intent-neighbour weights as in the official code: softmax over all candidates, keep the top k, softmax again.

    similarity [B, C] (cosine; -inf for candidates that may not be used) -> (weights [B, k'], index [B, k']),
    k' = min(k, C); weights of unusable candidates that fill a short top-k are zero.
    """
    top_p, index = torch.softmax(similarity, dim=-1).topk(min(k, similarity.size(1)), dim=-1)
    usable = similarity.gather(1, index) > float("-inf")
    return torch.softmax(top_p.masked_fill(~usable, float("-inf")), dim=-1), index


class TrainingSessionMemory(nn.Module):
    """FIFO memory of the most recent training sessions: their items, graph nodes, session ids and channel vectors.

    Buffers are saved with the model, so a restored checkpoint evaluates against the memory it was trained with.
    """

    def __init__(self, size: int, max_len: int, dim: int) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"MSGAT: msgat_memory_size must be >= 1, got {size}")
        self.register_buffer("item_seq", torch.zeros(size, max_len, dtype=torch.long))
        self.register_buffer("item_seq_len", torch.ones(size, dtype=torch.long))
        self.register_buffer("nodes", torch.zeros(size, max_len, dtype=torch.long))
        self.register_buffer("session_ids", torch.zeros(size, dtype=torch.long))
        self.register_buffer("vectors", torch.zeros(size, dim))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))
        self.register_buffer("cursor", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        return self.item_seq.size(0)

    def __len__(self) -> int:
        return int(self.filled)

    def write(
        self,
        item_seq: torch.Tensor,
        item_seq_len: torch.Tensor,
        nodes: torch.Tensor,
        session_ids: torch.Tensor | None,
        vectors: torch.Tensor,
    ) -> None:
        """Append a batch (the oldest entries are overwritten); tensors narrower than the memory are zero-padded.

        Without session ids an entry gets the id -(slot + 1): it then only excludes itself.
        """
        keep = min(item_seq.size(0), self.size)
        slots = (int(self.cursor) + torch.arange(keep, device=self.item_seq.device)) % self.size
        if session_ids is None:
            session_ids = -(slots + 1)
        width = self.item_seq.size(1)
        self.item_seq[slots] = F.pad(item_seq[-keep:, :width], (0, width - min(item_seq.size(1), width)))
        self.nodes[slots] = F.pad(nodes[-keep:, :width], (0, width - min(nodes.size(1), width)))
        self.item_seq_len[slots] = item_seq_len[-keep:]
        self.session_ids[slots] = session_ids[-keep:]
        self.vectors[slots] = vectors[-keep:].detach()
        self.cursor.fill_((int(self.cursor) + keep) % self.size)
        self.filled.fill_(min(int(self.filled) + keep, self.size))


class MSGAT(CosineGraphModel):
    """MSGAT as a RecBole sequential model; see the module docstring and docs/msgat.md."""

    scale_setting = "scale"

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        dim = config["embedding_size"]
        self.max_norm = float(config["embedding_max_norm"])
        self.n_neighbours = config["n_neighbours"]
        self.length_buckets = config["length_buckets"]
        self.neighbour_source = config["msgat_neighbour_source"]
        if self.neighbour_source not in NEIGHBOUR_SOURCES:
            raise ValueError(
                f"MSGAT: msgat_neighbour_source must be one of {NEIGHBOUR_SOURCES}, got {self.neighbour_source!r}"
            )
        self.item_embedding = nn.Embedding(self.n_items, dim, padding_idx=0)
        self.position_embedding = nn.Embedding(self.max_seq_length, dim)
        self.input_norm = nn.LayerNorm(2 * dim, eps=1e-12)
        self.gnn = GatedGraphCell(2 * dim)
        self.self_attention = TargetSelfAttention(
            2 * dim, config["n_heads"], config["attention_dropout"], config["entmax_iter"]
        )
        self.gate_last = nn.Linear(2 * dim, 2 * dim)
        self.gate_position = nn.Linear(2 * dim, 2 * dim)
        self.global_attention = TargetGlobalAttention(2 * dim, config["entmax_iter"])
        self.decoder = nn.Linear(4 * dim, dim)
        self.decoder_dropout = nn.Dropout(config["attention_dropout"])
        self.neighbour_dropout = nn.Dropout(config["neighbour_dropout"])
        uniform_init(self, dim)
        self.memory = None
        if self.neighbour_source == "memory":
            self.memory = TrainingSessionMemory(config["msgat_memory_size"], self.max_seq_length, dim)
            self.register_load_state_dict_post_hook(lambda module, keys: module.mark_memory_stale())
        self._memory_stale = True
        self._training_batch: tuple[torch.Tensor, ...] | None = None

    def mark_memory_stale(self) -> None:
        """The memory's vectors no longer match the parameters; recompute them before the next evaluation."""
        self._memory_stale = True

    def item_table(self, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        """L2-normalised item embeddings."""
        return unit_rows(super().item_table(item_ids))

    def session_vector(self, interaction) -> torch.Tensor:
        """Session vectors of a batch; the dataset's session ids keep a session's own prefixes out of its memory."""
        session_ids = interaction[self.USER_ID] if self.USER_ID in interaction else None
        return self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], session_ids)

    def forward(
        self, item_seq: torch.Tensor, item_seq_len: torch.Tensor, session_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Session vector [B, d] = intra-session vector + intent-neighbour vector.

        `session_ids` (the dataset's session/user id) keep a session's own other prefixes out of its memory
        neighbours; without them training sessions count as distinct sessions and nothing is excluded at evaluation.
        """
        if self.memory is not None and not self.training and self._memory_stale:
            self.refresh_memory()
        intra, channel, nodes = self.channel_vectors(item_seq, item_seq_len, session_ids)
        neighbours = self.neighbour_dropout(self.intent_neighbours(channel, session_ids))
        if self.memory is not None and self.training:
            self._training_batch = (item_seq, item_seq_len, nodes, session_ids, channel.detach())
        return intra + neighbours

    def remember_training_batch(self) -> None:
        """Write the sessions of the last training forward pass into the memory (the trainer calls this once per
        batch, after the loss)."""
        if self._training_batch is not None:
            self.memory.write(*self._training_batch)
            self._training_batch = None
            self._memory_stale = True

    def channel_vectors(
        self, item_seq: torch.Tensor, item_seq_len: torch.Tensor, session_ids: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(intra-session vector, intra + relation vector that the neighbour step compares, graph nodes)."""
        intra, nodes = self.bucketed_intra_session_vectors(item_seq, item_seq_len)
        relation = self.relation_vector(nodes, session_ids)
        return intra, intra + relation, nodes

    def bucketed_intra_session_vectors(
        self, item_seq: torch.Tensor, item_seq_len: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Intra-session vectors [B, d] and graph nodes [B, L] (each session's distinct items, ascending, 0-padded).

        The GNN runs once on the packed graph of the batch; the attention steps run on `length_buckets` groups of
        similar length, each trimmed to its own longest session, so short sessions do not pay for the longest one
        in the T x T attention scores. A session's vector does not depend on its group.
        """
        item_seq = trim_padding(item_seq, item_seq_len)
        graph = build_packed_graph(item_seq, item_seq_len)
        node_states = self.node_states(graph)
        position_gates = self.gate_position(node_states)
        order = item_seq_len.argsort(stable=True)
        vectors = []
        for rows in order.tensor_split(min(self.length_buckets, order.numel())):
            seq_len = item_seq_len[rows]
            alias = graph.alias[rows, : int(seq_len.max())]
            vectors.append(self.attended_session_vector(
                graph.position_states(node_states, alias), graph.position_states(position_gates, alias), seq_len))
        return torch.cat(vectors)[order.argsort()], padded_session_nodes(graph, *item_seq.shape)

    def node_states(self, graph: PackedSessionGraph) -> torch.Tensor:
        """GNN states [T, 2d] of the packed graph's nodes, from layer-normed [item; node-slot position] features."""
        items = clamp_row_norms(self.item_embedding(graph.nodes), self.max_norm)
        positions = clamp_row_norms(self.position_embedding(graph.node_slot), self.max_norm)
        hidden = self.input_norm(torch.cat([items, positions], dim=-1))
        for _ in range(self.step):
            hidden = self.gnn(hidden, graph)
        return hidden

    def attended_session_vector(
        self, seq_hidden: torch.Tensor, position_gates: torch.Tensor, item_seq_len: torch.Tensor
    ) -> torch.Tensor:
        """Target self-attention -> gated global attention -> decoder, from the GNN states of each position
        [B, L, 2d] and their projections W_p h [B, L, 2d] (computed once per node); -> L2-normalised [B, d]."""
        mask = position_mask(item_seq_len, seq_hidden.size(1))
        tokens = torch.cat([seq_hidden, seq_hidden.new_zeros(seq_hidden.size(0), 1, seq_hidden.size(2))], dim=1)
        attended = self.self_attention(tokens, torch.cat([mask, mask.new_ones(mask.size(0), 1)], dim=1))
        target, positions_out = attended[:, -1], attended[:, :-1]
        gates = torch.sigmoid(self.gate_last(gather_last(seq_hidden, item_seq_len)).unsqueeze(1) + position_gates)
        global_state = self.global_attention(positions_out, gates, target, mask)
        decoded = self.decoder_dropout(F.selu(self.decoder(torch.cat([global_state, target], dim=-1))))
        return unit_rows(decoded)

    def relation_vector(self, nodes: torch.Tensor, session_ids: torch.Tensor | None) -> torch.Tensor:
        """Inter-session channel: normalised selu of the overlap-weighted average of session item sums.

        The official code reads the item table through a NumPy round trip (no gradient) and passes this average
        through a target-aware entmax attention over identical copies of it, which returns it unchanged.
        """
        table = clamp_row_norms(self.item_embedding.weight, self.max_norm).detach()
        sums = F.embedding_bag(nodes, table, mode="sum", padding_idx=0)
        if self.memory is None:
            relation = session_overlap_graph(nodes) @ sums
        else:
            weights = self.memory_overlap(nodes, session_ids)
            overlapping = weights.any(dim=0).nonzero().squeeze(1)  # memory sessions sharing an item with the batch
            memory_sums = F.embedding_bag(self.memory.nodes[overlapping], table, mode="sum", padding_idx=0)
            relation = (sums + weights[:, overlapping] @ memory_sums) / (1.0 + weights.sum(dim=1, keepdim=True))
        return F.normalize(F.selu(relation), dim=-1)

    def memory_overlap(self, nodes: torch.Tensor, session_ids: torch.Tensor | None) -> torch.Tensor:
        """Jaccard overlap [B, M] with the memory's sessions, zero for the query's own session."""
        overlap = jaccard_overlap(nodes, self.memory.nodes[: len(self.memory)])
        return overlap.masked_fill(self.same_session(session_ids, overlap.size(0)), 0.0)

    def same_session(self, session_ids: torch.Tensor | None, batch_size: int) -> torch.Tensor:
        """[B, M] True where a memory entry belongs to the query's session."""
        memory_ids = self.memory.session_ids[: len(self.memory)]
        if session_ids is None:
            return memory_ids.new_zeros((batch_size, memory_ids.numel()), dtype=torch.bool)
        return session_ids.unsqueeze(1) == memory_ids.unsqueeze(0)

    def intent_neighbours(self, channel: torch.Tensor, session_ids: torch.Tensor | None) -> torch.Tensor:
        """Intent-neighbour collaboration: weighted sum of the top-k most similar sessions (the session included)."""
        query = F.normalize(channel, dim=-1, eps=1e-6)
        if self.memory is None:
            weights, index = top_k_neighbour_weights(query @ query.t(), self.n_neighbours)
            return (weights.unsqueeze(-1) * channel[index]).sum(dim=1)
        memory_vectors = self.memory.vectors[: len(self.memory)]
        similarity = query @ F.normalize(memory_vectors, dim=-1, eps=1e-6).t()
        similarity = similarity.masked_fill(self.same_session(session_ids, channel.size(0)), float("-inf"))
        if memory_vectors.size(0) == 0:
            return channel
        self_similarity = (query * query).sum(dim=-1, keepdim=True)
        weights, index = top_k_neighbour_weights(torch.cat([self_similarity, similarity], dim=1), self.n_neighbours)
        memory_rows = memory_vectors[(index - 1).clamp(min=0)]
        values = torch.where((index == 0).unsqueeze(-1), channel.unsqueeze(1), memory_rows)
        return (weights.unsqueeze(-1) * values).sum(dim=1)

    @torch.no_grad()
    def refresh_memory(self) -> None:
        """Recompute every memory entry's channel vector with the current parameters (in evaluation mode)."""
        memory = self.memory
        chunk = 256
        for start in range(0, len(memory), chunk):
            rows = slice(start, min(start + chunk, len(memory)))
            entries = memory.item_seq[rows], memory.item_seq_len[rows], memory.session_ids[rows]
            _, channel, _ = self.channel_vectors(*entries)
            memory.vectors[rows] = channel
        self._memory_stale = False
