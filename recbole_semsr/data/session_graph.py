"""SR-GNN session graphs built for a whole batch at once (no per-session Python loop)."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PackedSessionGraph:
    """SR-GNN's session graphs of a batch as one disjoint graph over the T distinct (session, item) nodes.

    Each session's distinct items become nodes; consecutive clicks i_j -> i_{j+1} become directed edges (a repeated
    transition counts once), weighted by SR-GNN's degree normalisation.

    nodes:  [T] item id of each node (sessions one after another, items ascending within a session)
    node_slot: [T] index of each node within its own session (0, 1, ... in item order)
    alias:  [B, L] node index (into `nodes`) of each sequence position; 0 at padding positions
    source, target: [E] the distinct directed edges u -> v
    in_weight, out_weight: [E] 1 / in-degree(v) and 1 / out-degree(u)
    """

    nodes: torch.Tensor
    node_slot: torch.Tensor
    alias: torch.Tensor
    source: torch.Tensor
    target: torch.Tensor
    in_weight: torch.Tensor
    out_weight: torch.Tensor

    def propagate(self, to_successors: torch.Tensor, to_predecessors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Degree-normalised sums over incoming and outgoing edges of node features [T, d] (gathered with
        `index_select`, which unlike tensor indexing runs in parallel on a CPU: bench/graph_layers.py)."""
        incoming = torch.zeros_like(to_successors).index_add_(
            0, self.target, to_successors.index_select(0, self.source) * self.in_weight.unsqueeze(1))
        outgoing = torch.zeros_like(to_predecessors).index_add_(
            0, self.source, to_predecessors.index_select(0, self.target) * self.out_weight.unsqueeze(1))
        return incoming, outgoing

    def position_states(self, node_states: torch.Tensor, alias: torch.Tensor | None = None) -> torch.Tensor:
        """Node states [T, d] spread to the sequence positions of `alias` (default: the whole batch) -> [B, L, d]."""
        alias = self.alias if alias is None else alias
        return node_states.index_select(0, alias.flatten()).view(*alias.shape, node_states.size(-1))


def trim_padding(item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
    """Drop the padding columns that no session of the batch uses."""
    return item_seq[:, : int(item_seq_len.max())]


def position_mask(item_seq_len: torch.Tensor, length: int) -> torch.Tensor:
    """[B, length] True at the positions a session actually fills."""
    return torch.arange(length, device=item_seq_len.device) < item_seq_len.unsqueeze(1)


def _sorted_nodes(item_seq: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Per row: items sorted with padding last, the node index of each sorted slot, and the sort order."""
    pad_key = torch.iinfo(item_seq.dtype).max
    sorted_key, order = torch.where(valid, item_seq, pad_key).sort(dim=1)
    starts_new_node = torch.ones_like(valid)
    starts_new_node[:, 1:] = sorted_key[:, 1:] != sorted_key[:, :-1]
    return sorted_key, starts_new_node, starts_new_node.long().cumsum(dim=1) - 1, order, sorted_key != pad_key


def build_packed_graph(item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> PackedSessionGraph:
    """The packed session graphs of a batch (items left-aligned, 0-padded after `item_seq_len`): work scales with
    the distinct items, not B x L."""
    valid = position_mask(item_seq_len, item_seq.size(1))
    sorted_key, starts_new_node, node_of_sorted, order, is_item = _sorted_nodes(item_seq, valid)
    node_starts = starts_new_node & is_item
    offsets = node_starts.sum(dim=1).cumsum(dim=0) - node_starts.sum(dim=1)
    alias = torch.empty_like(item_seq).scatter_(1, order, node_of_sorted + offsets.unsqueeze(1))
    alias = torch.where(valid, alias, 0)

    has_edge = valid[:, 1:]
    n_nodes = int(node_starts.sum())
    pairs = torch.unique(alias[:, :-1][has_edge] * n_nodes + alias[:, 1:][has_edge])
    source, target = pairs // n_nodes, pairs % n_nodes
    out_degree = torch.bincount(source, minlength=n_nodes).float()
    in_degree = torch.bincount(target, minlength=n_nodes).float()
    return PackedSessionGraph(
        nodes=sorted_key[node_starts], node_slot=node_of_sorted[node_starts], alias=alias,
        source=source, target=target,
        in_weight=1.0 / in_degree[target], out_weight=1.0 / out_degree[source],
    )
