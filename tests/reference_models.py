"""Plain, padded reference computations that the vectorised, packed code of the package is tested against.

- `reference_graph`: SR-GNN's per-session graph, written out with Python lists.
- `DenseSessionGraphs`: those graphs of a batch as padded [B, N, N] adjacency matrices.
- `padded_msgat_intra_session`: MSGAT's intra-session channel as the official code computes it, on padded tensors
  with the `entmax` package's bisection (the package's code before its row packing and Newton entmax).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from entmax import entmax_bisect

from recbole_semsr.data.session_graph import position_mask
from recbole_semsr.model.layers import gather_last
from recbole_semsr.model.msgat import MSGAT, clamp_row_norms, learned_entmax_alpha


def reference_graph(items: list[int]) -> tuple[list[int], list[int], torch.Tensor, torch.Tensor]:
    """SR-GNN's per-session construction: distinct items ascending, the node of each click, and the degree-normalised
    in- and out-adjacency (a repeated transition counts once)."""
    nodes = sorted(set(items))
    alias = [nodes.index(i) for i in items]
    n = len(items)
    adjacency = torch.zeros(n, n)
    for u, v in zip(alias[:-1], alias[1:]):
        adjacency[u, v] = 1.0
    out_degree = adjacency.sum(1, keepdim=True).clamp(min=1)
    in_degree = adjacency.sum(0, keepdim=True).clamp(min=1)
    return nodes, alias, (adjacency / in_degree).t(), adjacency / out_degree


class DenseSessionGraphs:
    """`reference_graph` of each session of a batch, in N = L node slots: nodes [B, N] (0-padded), alias [B, L],
    a_in, a_out [B, N, N]."""

    def __init__(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> None:
        batch_size, length = item_seq.shape
        self.nodes = torch.zeros(batch_size, length, dtype=torch.long)
        self.alias = torch.zeros(batch_size, length, dtype=torch.long)
        self.a_in = torch.zeros(batch_size, length, length)
        self.a_out = torch.zeros(batch_size, length, length)
        for row, size in enumerate(item_seq_len.tolist()):
            nodes, alias, a_in, a_out = reference_graph(item_seq[row, :size].tolist())
            self.nodes[row, : len(nodes)] = torch.tensor(nodes)
            self.alias[row, :size] = torch.tensor(alias)
            self.a_in[row, :size, :size] = a_in
            self.a_out[row, :size, :size] = a_out

    def propagate(self, to_successors: torch.Tensor, to_predecessors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.a_in @ to_successors, self.a_out @ to_predecessors


def padded_msgat_intra_session(model: MSGAT, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
    """MSGAT's intra-session vectors [B, d] in one padded group (evaluation mode: no dropout)."""
    graph = DenseSessionGraphs(item_seq, item_seq_len)
    items = clamp_row_norms(model.item_embedding(graph.nodes), model.max_norm)
    positions = clamp_row_norms(model.position_embedding.weight[: graph.nodes.size(1)], model.max_norm)
    hidden = model.input_norm(torch.cat([items, positions.unsqueeze(0).expand_as(items)], dim=-1))
    for _ in range(model.step):
        hidden = model.gnn(hidden, graph)
    seq_hidden = hidden.gather(1, graph.alias.unsqueeze(-1).expand(-1, -1, hidden.size(-1)))
    mask = position_mask(item_seq_len, seq_hidden.size(1))
    tokens = torch.cat([seq_hidden, seq_hidden.new_zeros(seq_hidden.size(0), 1, seq_hidden.size(2))], dim=1)
    target, positions_out = _padded_self_attention(model, tokens, mask)
    gates = torch.sigmoid(model.gate_last(gather_last(seq_hidden, item_seq_len)).unsqueeze(1)
                          + model.gate_position(seq_hidden))
    attention = model.global_attention
    scores = attention.score(torch.relu(attention.key(positions_out) + attention.target(target).unsqueeze(1)))
    scores = scores.squeeze(-1).masked_fill(~mask, float("-inf"))
    weights = entmax_bisect(scores, learned_entmax_alpha(attention.alpha, target), dim=-1,
                            n_iter=attention.entmax_iter)
    global_state = (weights.unsqueeze(-1) * gates).sum(dim=1)
    return F.normalize(F.selu(model.decoder(torch.cat([global_state, target], dim=-1))), dim=-1)


def _padded_self_attention(model: MSGAT, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    attention = model.self_attention
    key_mask = torch.cat([mask, mask.new_ones(mask.size(0), 1)], dim=1)
    queries = attention.split_heads(torch.relu(attention.query(tokens)))
    values = attention.split_heads(tokens)
    scores = queries @ values.transpose(-1, -2) / math.sqrt(attention.head_dim)
    scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    alpha = learned_entmax_alpha(attention.head_alpha, queries[:, :, -1:, :])
    weights = entmax_bisect(scores, alpha, dim=-1, n_iter=attention.entmax_iter)
    context = (weights @ values).transpose(1, 2).reshape(tokens.shape)
    attended = attention.norm(context + attention.ffn_out(torch.relu(attention.ffn_in(context))))
    return attended[:, -1], attended[:, :-1]
