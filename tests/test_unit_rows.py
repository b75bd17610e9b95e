"""The fused L2 normalisation (`layers.unit_rows`) computes what `F.normalize` computes, values and gradients, and the
models that use it give the same logits and gradients as with `F.normalize` on a fixed batch."""
import pytest
import torch
import torch.nn.functional as F

from conftest import make_batch
from recbole_semsr.model import msgat, niser, semsr
from recbole_semsr.model.layers import unit_rows
from recbole_semsr.model.msgat import MSGAT
from recbole_semsr.model.niser import NISER

SESSIONS = [[1, 2, 1, 3], [4, 5], [6, 7, 8, 9, 6, 2]]
TARGETS = [4, 6, 1]
NO_DROPOUT = {"item_dropout": 0.0, "attention_dropout": 0.0, "neighbour_dropout": 0.0}


def rows_with_edge_cases(dtype: torch.dtype) -> torch.Tensor:
    """Random rows, a zero row and a row whose norm is below the default eps."""
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(3), dtype=dtype)
    x[2] = 0
    x[4] = 1e-14
    return x


@pytest.mark.parametrize("eps", [1e-12, 1e-6])
def test_values_and_gradients_equal_f_normalize(eps):
    upstream = torch.randn(6, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ours, reference = (rows_with_edge_cases(torch.float64).requires_grad_() for _ in range(2))
    values = unit_rows(ours, eps)
    assert torch.equal(values, F.normalize(reference, dim=-1, eps=eps))
    values.backward(upstream)
    F.normalize(reference, dim=-1, eps=eps).backward(upstream)
    assert torch.allclose(ours.grad, reference.grad, rtol=0, atol=1e-12)
    assert ours.grad[4].abs().max() > 0  # below eps the row is only scaled, and the gradient passes unchanged


def test_gradcheck_in_double_precision():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(unit_rows, (x,))


def with_f_normalize(monkeypatch: pytest.MonkeyPatch) -> None:
    """The models as they were before `unit_rows`: every use of it replaced by `F.normalize`."""
    def f_normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
        return F.normalize(x, dim=-1, eps=eps)

    for module in (niser, semsr, msgat):
        monkeypatch.setattr(module, "unit_rows", f_normalize)


def logits_and_gradients(model: torch.nn.Module) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    batch = make_batch(SESSIONS, TARGETS)
    model.zero_grad()
    model.calculate_loss(batch).backward()
    gradients = {name: parameter.grad.clone() for name, parameter in model.named_parameters()
                 if parameter.grad is not None}
    with torch.no_grad():
        return model.full_sort_predict(batch), gradients


@pytest.fixture
def llm_table(monkeypatch) -> None:
    table = torch.randn(10, 6, generator=torch.Generator().manual_seed(1))
    table[0] = 0
    monkeypatch.setattr(semsr, "load_item_embeddings", lambda config, dataset: table.clone())


@pytest.mark.parametrize("model_class", [NISER, MSGAT, semsr.fused(NISER)], ids=lambda cls: cls.__name__)
def test_models_compute_the_same_logits_and_gradients_as_with_f_normalize(build_model, model_class, llm_table,
                                                                          monkeypatch):
    fused_logits, fused_gradients = logits_and_gradients(build_model(model_class, **NO_DROPOUT))
    with_f_normalize(monkeypatch)
    logits, gradients = logits_and_gradients(build_model(model_class, **NO_DROPOUT))
    assert torch.allclose(fused_logits, logits, rtol=0, atol=1e-5)
    assert fused_gradients.keys() == gradients.keys()
    for name, gradient in gradients.items():
        assert torch.allclose(fused_gradients[name], gradient, rtol=1e-4, atol=1e-6), name
