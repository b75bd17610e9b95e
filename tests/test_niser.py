import torch
import torch.nn.functional as F

from conftest import make_batch
from recbole_semsr.model.niser import NISER

SESSIONS = [[1, 2, 1, 3], [4, 5], [6, 7, 8, 9, 6, 2]]
TARGETS = [4, 6, 1]


def test_forward_backward_shapes_normalisation_and_sigma(build_model):
    model = build_model(NISER, n_items=10, embedding_size=8, sigma=16.0, item_dropout=0.0)
    batch = make_batch(SESSIONS, TARGETS)
    session = model.forward(batch["item_id_list"], batch["item_length"])
    assert session.shape == (3, 8)
    assert torch.allclose(session.norm(dim=-1), torch.ones(3), atol=1e-5)

    logits = model.full_sort_predict(batch)
    by_hand = 16.0 * session @ F.normalize(model.item_embedding.weight, dim=-1).t()
    assert logits.shape == (3, 10)
    assert torch.allclose(logits, by_hand, atol=1e-5)
    assert logits.abs().max() <= 16.0 + 1e-4

    model.calculate_loss(batch).backward()
    assert model.item_embedding.weight.grad[[1, 2, 3, 4, 6]].abs().sum() > 0
    assert model.gnn.input_gates.weight.grad.abs().sum() > 0
    assert model.position_embedding.weight.grad[:6].abs().sum() > 0


def test_padding_is_masked(build_model):
    model = build_model(NISER, n_items=10, embedding_size=8).eval()
    batch = make_batch(SESSIONS, TARGETS)
    polluted = batch["item_id_list"].clone()
    polluted[0, 4:] = 9  # positions past the session's length
    clean = model.forward(batch["item_id_list"], batch["item_length"])
    assert torch.allclose(model.forward(polluted, batch["item_length"]), clean, atol=1e-6)


def test_full_sort_predict_agrees_with_predict(build_model):
    model = build_model(NISER, n_items=10, embedding_size=8).eval()
    batch = make_batch(SESSIONS, TARGETS)
    full = model.full_sort_predict(batch)
    pointwise = model.predict(batch)
    assert torch.allclose(full[torch.arange(3), torch.tensor(TARGETS)], pointwise, atol=1e-5)
    assert torch.equal(full.argsort(dim=1, descending=True), model.full_sort_predict(batch).argsort(dim=1, descending=True))


def test_loss_decreases_over_a_few_steps(build_model):
    model = build_model(NISER, n_items=10, embedding_size=8, item_dropout=0.0)
    batch = make_batch(SESSIONS, TARGETS)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = model.calculate_loss(batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_item_dropout_acts_in_training_only(build_model):
    model = build_model(NISER, n_items=10, embedding_size=8, item_dropout=0.5)
    batch = make_batch(SESSIONS, TARGETS)
    forward = lambda: model.forward(batch["item_id_list"], batch["item_length"])  # noqa: E731
    assert not torch.allclose(forward(), forward())
    model.eval()
    assert torch.equal(forward(), forward())
