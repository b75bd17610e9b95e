"""SR-GNN session graphs built for a whole batch at once (no per-session Python loop)."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SessionGraph:
    """Dense SR-GNN graphs of a batch of sessions; N = number of node slots (= padded sequence length).

    nodes:     [B, N] item id of each node (unique items of the session, ascending; 0 in unused slots)
    alias:     [B, L] node index of each sequence position
    a_in:      [B, N, N] a_in[v, u] = 1 / in-degree(v) for each edge u -> v
    a_out:     [B, N, N] a_out[u, v] = 1 / out-degree(u) for each edge u -> v
    node_mask: [B, N] True for nodes that hold an item
    """

    nodes: torch.Tensor
    alias: torch.Tensor
    a_in: torch.Tensor
    a_out: torch.Tensor
    node_mask: torch.Tensor


def trim_padding(item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
    """Drop the padding columns that no session of the batch uses."""
    return item_seq[:, : int(item_seq_len.max())]


def position_mask(item_seq_len: torch.Tensor, length: int) -> torch.Tensor:
    """[B, length] True at the positions a session actually fills."""
    return torch.arange(length, device=item_seq_len.device) < item_seq_len.unsqueeze(1)


def build_session_graph(item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> SessionGraph:
    """Session graph of each row of `item_seq` (items left-aligned, padded with 0 after `item_seq_len`).

    Each session's distinct items become nodes; consecutive clicks i_j -> i_{j+1} become directed edges
    (a repeated transition counts once), and the in/out adjacency is normalised by degree as in SR-GNN.
    """
    batch_size, length = item_seq.shape
    valid = position_mask(item_seq_len, length)
    pad_key = torch.iinfo(item_seq.dtype).max
    sorted_key, order = torch.where(valid, item_seq, pad_key).sort(dim=1)

    starts_new_node = torch.ones_like(valid)
    starts_new_node[:, 1:] = sorted_key[:, 1:] != sorted_key[:, :-1]
    node_of_sorted = starts_new_node.long().cumsum(dim=1) - 1

    alias = torch.empty_like(item_seq).scatter_(1, order, node_of_sorted)
    is_item = sorted_key != pad_key
    nodes = torch.zeros_like(item_seq).scatter_(1, node_of_sorted, torch.where(is_item, sorted_key, 0))
    node_mask = torch.zeros_like(valid).scatter_(1, node_of_sorted, is_item)

    edges = torch.zeros(batch_size, length, length, device=item_seq.device)
    has_edge = valid[:, 1:]
    batch_index = torch.arange(batch_size, device=item_seq.device).unsqueeze(1).expand(-1, length - 1)
    edges[batch_index[has_edge], alias[:, :-1][has_edge], alias[:, 1:][has_edge]] = 1.0

    a_out = edges / edges.sum(dim=2, keepdim=True).clamp(min=1.0)
    incoming = edges.transpose(1, 2)
    a_in = incoming / incoming.sum(dim=2, keepdim=True).clamp(min=1.0)
    return SessionGraph(nodes=nodes, alias=alias, a_in=a_in, a_out=a_out, node_mask=node_mask)
