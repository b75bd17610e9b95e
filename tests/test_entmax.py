"""alpha-entmax (`recbole_semsr.model.entmax`): hand-computed cases, and values and gradients equal to the `entmax`
package that the official MSGAT code uses."""
import pytest
import torch
from entmax import entmax_bisect

from recbole_semsr.model.entmax import entmax_alpha


def masked_scores(seed: int, rows: int = 40, width: int = 17) -> torch.Tensor:
    """Random scores of several magnitudes, about 30% masked (-inf), one finite score per row at least."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(rows, width, generator=generator) * torch.logspace(-1, 1, rows).unsqueeze(1)
    masked = torch.rand(rows, width, generator=generator) < 0.3
    masked[:, 0] = False
    return scores.masked_fill(masked, float("-inf"))


def test_alpha_2_is_sparsemax_by_hand():
    # sparsemax([1, 0.5, -1]): support {1, 0.5}, tau = (1 + 0.5 - 1) / 2 = 0.25 -> [0.75, 0.25, 0]
    probabilities = entmax_alpha(torch.tensor([[1.0, 0.5, -1.0]]), torch.tensor([[2.0]]))
    assert torch.allclose(probabilities, torch.tensor([[0.75, 0.25, 0.0]]), atol=1e-6)
    assert probabilities[0, 2] == 0


def test_alpha_1_5_by_hand():
    # 1.5-entmax([1, 0]): x = z / 2, p_i = (x_i - tau)^2, roots of (0.5 - tau)^2 + (-tau)^2 = 1 with tau < 0:
    # tau = (0.5 - sqrt(1.75)) / 2, so p = [(0.25 + sqrt(1.75) / 2)^2, (sqrt(1.75) / 2 - 0.25)^2]
    root = 1.75**0.5 / 2
    expected = torch.tensor([[(0.25 + root) ** 2, (root - 0.25) ** 2]])
    assert torch.allclose(entmax_alpha(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.5]])), expected, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_equal_the_package_bisection(seed):
    scores = masked_scores(seed)
    alpha = 1 + torch.rand(scores.size(0), 1, generator=torch.Generator().manual_seed(seed + 10))
    alpha[:5] = 2.0
    alpha[5:10] = 1.01
    ours = entmax_alpha(scores, alpha)
    reference = entmax_bisect(scores.double(), alpha.double(), dim=-1, n_iter=100).float()
    assert torch.allclose(ours, reference, rtol=0, atol=2e-6)
    assert torch.allclose(ours.sum(dim=-1), torch.ones(scores.size(0)), atol=1e-6)
    assert torch.equal(ours[scores == float("-inf")], torch.zeros(int((scores == float("-inf")).sum())))
    assert (ours[:5] == 0).sum() > (scores[:5] == float("-inf")).sum(), "sparsemax rows should zero real scores"


def test_heads_broadcast_one_alpha_per_row():
    scores = masked_scores(3, rows=6).view(2, 3, 1, 17).expand(2, 3, 4, 17)
    alpha = torch.tensor([1.2, 1.5, 1.9]).view(1, 3, 1, 1).expand(2, 3, 1, 1)
    reference = entmax_bisect(scores.double(), alpha.double(), dim=-1, n_iter=100).float()
    assert torch.allclose(entmax_alpha(scores, alpha), reference, atol=2e-6)


def test_gradients_equal_the_package_in_double_precision():
    scores = masked_scores(4, rows=8).double()
    alpha = (1.1 + 0.8 * torch.rand(8, 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64))
    upstream = torch.randn(8, 17, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    gradients = []
    for function in (lambda z, a: entmax_alpha(z, a, max_iter=60),
                     lambda z, a: entmax_bisect(z, a, dim=-1, n_iter=100)):
        z, a = scores.clone().requires_grad_(), alpha.clone().requires_grad_()
        gradients.append(torch.autograd.grad((function(z, a) * upstream).sum(), (z, a)))
    for ours, reference in zip(*gradients):
        assert torch.allclose(ours, reference, rtol=1e-8, atol=1e-10)


def test_gradcheck_in_scores_and_alpha():
    scores = torch.randn(3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(7)).requires_grad_()
    alpha = torch.tensor([[1.3], [1.6], [1.9]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z, a: entmax_alpha(z, a, max_iter=60), (scores, alpha))
