"""NISER (Gupta et al. 2019): SR-GNN with normalised item and session representations."""
from __future__ import annotations

import torch
from torch import nn

from recbole_semsr.data.session_graph import build_packed_graph, position_mask, trim_padding
from recbole_semsr.model.base import CosineGraphModel
from recbole_semsr.model.layers import GatedGraphCell, SoftAttentionReadout, gather_last, uniform_init, unit_rows


class NISER(CosineGraphModel):
    """NISER+: item embeddings with item dropout, then L2-normalised, through a gated GNN; learned position
    embeddings, soft-attention readout (W3 with bias), L2-normalised session vector; logits = sigma * cos(s, item).

    Equal to RecBole-GNN's NISER: dropout acts before the normalisation, so the GNN's inputs have unit norm in
    training too, and the readout's output projection has a bias.
    """

    scale_setting = "sigma"

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        dim = config["embedding_size"]
        self.item_embedding = nn.Embedding(self.n_items, dim, padding_idx=0)
        self.position_embedding = nn.Embedding(self.max_seq_length, dim)
        self.item_dropout = nn.Dropout(config["item_dropout"])
        self.gnn = GatedGraphCell(dim)
        self.readout = SoftAttentionReadout(dim, output_bias=True)
        uniform_init(self, dim)

    def item_table(self, item_ids: torch.Tensor | None = None) -> torch.Tensor:
        """L2-normalised item embeddings."""
        return unit_rows(super().item_table(item_ids))

    def forward(self, item_seq: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
        """L2-normalised session vector [B, d]."""
        item_seq = trim_padding(item_seq, item_seq_len)
        graph = build_packed_graph(item_seq, item_seq_len)
        hidden = unit_rows(self.item_dropout(self.item_embedding(graph.nodes)))
        for _ in range(self.step):
            hidden = self.gnn(hidden, graph)
        seq_hidden = graph.position_states(hidden)
        seq_hidden = seq_hidden + self.position_embedding.weight[: item_seq.size(1)]
        last = gather_last(seq_hidden, item_seq_len)
        session = self.readout(seq_hidden, last, position_mask(item_seq_len, item_seq.size(1)))
        return unit_rows(session)
