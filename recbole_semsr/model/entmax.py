"""alpha-entmax (Peters, Niculae and Martins, ACL 2019) with one alpha per row, for MSGAT's sparse attentions.

    entmax_alpha(z)_i = [(alpha - 1) z_i - tau]_+ ^ (1 / (alpha - 1)),  tau such that the outputs sum to 1.

The threshold tau is the root of g(tau) = sum_i [x_i - tau]_+^e - 1 (x = (alpha - 1) z, e = 1 / (alpha - 1)). The
`entmax` package (used by the official MSGAT code) finds it by bisection, a fixed number of halvings of a bracket.
Here it is found by Newton's method from the bracket's left end, tau_0 = max_i x_i - 1: g is convex and decreasing
on the bracket, so the iterates rise monotonically to the root, and they reach float precision in a few steps where
bisection needs one step per bit. Powers are computed as exp(e * log(.)), vectorised, instead of `pow` with a
tensor exponent. The gradient (in z and in alpha) is the closed form of Correia, Niculae and Martins (EMNLP 2019),
the same as the package's; tests compare both directions with the package.
"""
from __future__ import annotations

import torch

_LOG_FLOOR = -80.0


def entmax_alpha(scores: torch.Tensor, alpha: torch.Tensor, max_iter: int = 25) -> torch.Tensor:
    """alpha-entmax over the last dimension.

    scores [..., n] (-inf where masked; each row needs one finite score), alpha [..., 1] or broadcastable to it,
    every alpha in (1, 2]. Newton's method stops when every row's threshold has converged, after `max_iter` steps at
    most. Rows of the result sum to 1 and are exactly 0 where a score is masked or below the threshold.
    """
    return _AlphaEntmax.apply(scores, alpha, max_iter)


def _support_power(gap: torch.Tensor, exponent: torch.Tensor) -> torch.Tensor:
    """[gap]_+ ** exponent where gap > 0, and exactly 0 elsewhere (exponent >= 0), as exp(exponent * log(gap)).

    Written in float arithmetic only: on a CPU, log(0), exp(-inf), results below float32's normal range and
    boolean masks all take slow paths. The log is taken of 1 off the support, and the exponent's product with it is
    floored at -80 (exp(-80) ~ 2e-35).
    """
    positive_part = gap.clamp(min=0)
    on_support = torch.sign(positive_part)
    log_gap = torch.log(positive_part + (1 - on_support))
    return torch.exp((exponent * log_gap).clamp_(min=_LOG_FLOOR)) * on_support


def _threshold(x: torch.Tensor, exponent: torch.Tensor, max_iter: int) -> torch.Tensor:
    """The root tau [..., 1] of sum_i [x_i - tau]_+^e = 1, by Newton's method from max_i x_i - 1."""
    tau = x.max(dim=-1, keepdim=True).values - 1
    tolerance = 8 * torch.finfo(x.dtype).eps
    for _ in range(max_iter):
        gap = x - tau
        below = _support_power(gap, exponent - 1)  # [x - tau]_+^(e - 1)
        excess = (below * gap.clamp(min=0)).sum(dim=-1, keepdim=True) - 1
        step = excess / (exponent * below.sum(dim=-1, keepdim=True))
        tau = tau + step
        if bool((step.abs() <= tolerance * tau.abs().clamp(min=1)).all()):
            break
    return tau


class _AlphaEntmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores: torch.Tensor, alpha: torch.Tensor, max_iter: int) -> torch.Tensor:
        alpha = alpha.expand(*scores.shape[:-1], 1)
        x = scores * (alpha - 1)
        exponent = 1 / (alpha - 1)
        probabilities = _support_power(x - _threshold(x, exponent, max_iter), exponent)
        probabilities = probabilities / probabilities.sum(dim=-1, keepdim=True)
        ctx.save_for_backward(probabilities, alpha)
        return probabilities

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, None]:
        probabilities, alpha = ctx.saved_tensors
        skew = _support_power(probabilities, 2 - alpha)  # p^(2 - alpha) on the support
        skew_total = skew.sum(dim=-1, keepdim=True)
        grad_scores = grad * skew
        grad_scores = grad_scores - (grad_scores.sum(dim=-1, keepdim=True) / skew_total) * skew
        grad_alpha = None
        if ctx.needs_input_grad[1]:
            shannon = probabilities * torch.log(probabilities + (1 - torch.sign(probabilities)))  # p log p, 0 at p = 0
            skewed = skew / skew_total
            entropy = shannon.sum(dim=-1, keepdim=True)
            grad_alpha = grad * ((probabilities - skewed) / (alpha - 1) ** 2 - (shannon - skewed * entropy) / (alpha - 1))
            grad_alpha = grad_alpha.sum(dim=-1, keepdim=True)
        return grad_scores, grad_alpha, None
