"""Building blocks shared by the session models."""
from __future__ import annotations

import torch
from torch import nn

from recbole_semsr.data.session_graph import PackedSessionGraph


class _UnitRows(torch.autograd.Function):
    """Forward as `F.normalize(x, dim=-1, eps=eps)`; backward in one fused expression (fewer passes over x)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: float) -> torch.Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        denominator = norm.clamp_min(eps)
        unit = x / denominator
        ctx.save_for_backward(unit, denominator, norm >= eps)
        return unit

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        unit, denominator, through_norm = ctx.saved_tensors
        radial = (grad * unit).sum(dim=-1, keepdim=True) * through_norm
        return torch.addcmul(grad, unit, radial, value=-1) / denominator, None


def unit_rows(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Each row of `x` divided by its L2 norm (at least `eps`): the values of `F.normalize(x, dim=-1, eps=eps)`, with
    a backward pass that reads x about half as often (the item tables of NISER and SemSR-F are normalised at every
    training step)."""
    return _UnitRows.apply(x, eps)


def uniform_init(module: nn.Module, dim: int) -> None:
    """Every parameter ~ Uniform(-1/sqrt(d), 1/sqrt(d)), the initialisation of SR-GNN, NISER and MSGAT."""
    bound = 1.0 / dim**0.5
    for weight in module.parameters():
        nn.init.uniform_(weight, -bound, bound)


class GatedGraphCell(nn.Module):
    """One step of SR-GNN's gated graph network over degree-normalised edges (Li et al. 2016; Wu et al. 2019)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.edge_in = nn.Linear(dim, dim)
        self.edge_out = nn.Linear(dim, dim)
        self.input_gates = nn.Linear(2 * dim, 3 * dim)
        self.hidden_gates = nn.Linear(dim, 3 * dim)

    def forward(self, hidden: torch.Tensor, graph: PackedSessionGraph) -> torch.Tensor:
        """Node states [T, d] -> the next states (GRU update of the degree-normalised sums over incoming and
        outgoing edges; any graph with `propagate` works, e.g. padded [B, N, d] states with dense adjacency)."""
        incoming, outgoing = graph.propagate(self.edge_in(hidden), self.edge_out(hidden))
        messages = torch.cat([incoming, outgoing], dim=-1)
        in_reset, in_update, in_new = self.input_gates(messages).chunk(3, dim=-1)
        h_reset, h_update, h_new = self.hidden_gates(hidden).chunk(3, dim=-1)
        reset = torch.sigmoid(in_reset + h_reset)
        update = torch.sigmoid(in_update + h_update)
        candidate = torch.tanh(in_new + reset * h_new)
        return candidate + update * (hidden - candidate)


class SoftAttentionReadout(nn.Module):
    """Session vector from position states: alpha_j = q^T sigmoid(W1 h_last + W2 h_j + c), out = W3 [sum_j alpha_j h_j; h_last].

    SR-GNN/NISER use the raw alpha (`softmax=False`) and a W3 with a bias (`output_bias=True`, as SR-GNN's official
    code and RecBole-GNN's NISER); SemSR's LLM session encoder (Sec. 3.3.1) softmax-normalises alpha and has no bias.
    """

    def __init__(self, dim: int, out_dim: int | None = None, softmax: bool = False, output_bias: bool = False) -> None:
        super().__init__()
        self.w_last = nn.Linear(dim, dim, bias=False)
        self.w_seq = nn.Linear(dim, dim, bias=True)
        self.q = nn.Linear(dim, 1, bias=False)
        self.w_out = nn.Linear(2 * dim, out_dim or dim, bias=output_bias)
        self.softmax = softmax

    def attention(self, seq_hidden: torch.Tensor, last: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """alpha [B, L]; zero at masked positions (a row without any attended position is all zero).

        Only the attended positions are projected (padding costs nothing).
        """
        session_of_position = mask.nonzero(as_tuple=True)[0]
        scores = self.q(torch.sigmoid(self.w_last(last)[session_of_position] + self.w_seq(seq_hidden[mask])))
        alpha = seq_hidden.new_full(mask.shape, float("-inf") if self.softmax else 0.0)
        alpha[mask] = scores.squeeze(-1)
        if not self.softmax:
            return alpha
        return torch.where(mask.any(dim=1, keepdim=True), torch.softmax(alpha, dim=-1), torch.zeros_like(alpha))

    def forward(self, seq_hidden: torch.Tensor, last: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """seq_hidden [B, L, d], last [B, d], mask [B, L] (the positions attended over) -> [B, out_dim]."""
        alpha = self.attention(seq_hidden, last, mask)
        pooled = (alpha.unsqueeze(-1) * seq_hidden).sum(dim=1)
        return self.w_out(torch.cat([pooled, last], dim=-1))


def gather_last(seq_hidden: torch.Tensor, item_seq_len: torch.Tensor) -> torch.Tensor:
    """[B, L, d] -> [B, d]: the state at each session's last position."""
    index = (item_seq_len - 1).view(-1, 1, 1).expand(-1, 1, seq_hidden.size(-1))
    return seq_hidden.gather(1, index).squeeze(1)
