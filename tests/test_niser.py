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


def test_forward_against_hand_computation_of_the_reference_equations(build_model):
    """SR-GNN's gated graph step, soft attention and W3 WITH its bias (RecBole-GNN's NISER), on one session."""
    model = build_model(NISER, n_items=10, embedding_size=4, item_dropout=0.0).eval()
    with torch.no_grad():
        model.readout.w_out.bias.copy_(torch.tensor([0.3, -0.2, 0.1, 0.4]))
    session = [3, 5, 3, 7]  # nodes 3, 5, 7; edges 3->5, 5->3, 3->7
    nodes = torch.tensor([3, 5, 7])
    h = F.normalize(model.item_embedding.weight[nodes], dim=-1)
    a_in = torch.tensor([[0, 1, 0], [1, 0, 0], [1, 0, 0]], dtype=torch.float)   # row v: mean over u -> v
    a_out = torch.tensor([[0, .5, .5], [1, 0, 0], [0, 0, 0]])                   # row u: mean over u -> v
    gnn = model.gnn
    incoming = a_in @ gnn.edge_in(h)
    outgoing = a_out @ gnn.edge_out(h)
    gi = gnn.input_gates(torch.cat([incoming, outgoing], dim=-1))
    gh = gnn.hidden_gates(h)
    reset = torch.sigmoid(gi[:, :4] + gh[:, :4])
    update = torch.sigmoid(gi[:, 4:8] + gh[:, 4:8])
    new = torch.tanh(gi[:, 8:] + reset * gh[:, 8:])
    h = (1 - update) * new + update * h
    seq = h[torch.tensor([0, 1, 0, 2])] + model.position_embedding.weight[:4]
    last = seq[-1]
    readout = model.readout
    alpha = readout.q(torch.sigmoid(readout.w_last(last) + readout.w_seq(seq))).squeeze(-1)
    s = F.normalize(readout.w_out.weight @ torch.cat([(alpha.unsqueeze(1) * seq).sum(0), last]) + readout.w_out.bias,
                    dim=0)
    batch = make_batch([session], [1])
    assert torch.allclose(model.forward(batch["item_id_list"], batch["item_length"])[0], s, atol=1e-5)


def test_item_dropout_acts_before_the_normalisation(build_model):
    """In training the GNN's inputs keep unit norm (RecBole-GNN's order), however many entries dropout zeroed."""
    model = build_model(NISER, n_items=10, embedding_size=8, item_dropout=0.5).train()
    seen = []
    model.gnn.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach()))
    batch = make_batch(SESSIONS, TARGETS)
    model.forward(batch["item_id_list"], batch["item_length"])
    assert torch.allclose(seen[0].norm(dim=-1), torch.ones(len(seen[0])), atol=1e-5)


def test_full_ranking_reuses_the_normalised_item_table_until_train_or_eval(build_model):
    model = build_model(NISER, n_items=10, embedding_size=8, item_dropout=0.0).eval()
    batch = make_batch(SESSIONS, TARGETS)
    with torch.no_grad():
        model.full_sort_predict(batch)
        cached = model.scoring_table()
        assert torch.allclose(cached, F.normalize(model.item_embedding.weight, dim=-1), atol=1e-6)
        model.item_embedding.weight.mul_(-1.0)
        assert model.scoring_table() is cached
        model.eval()
        assert torch.allclose(model.scoring_table(), -cached, atol=1e-6)
        session = model.forward(batch["item_id_list"], batch["item_length"])
        by_hand = model.logit_scale * session @ F.normalize(model.item_embedding.weight, dim=-1).t()
        assert torch.allclose(model.full_sort_predict(batch), by_hand, atol=1e-5)
    assert model.scoring_table().requires_grad
