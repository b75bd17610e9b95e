"""The SemSR wrapper reads every base model through one interface (`model.base.as_session_model`)."""
import torch

from conftest import make_batch
from recbole_semsr.model import MODELS
from recbole_semsr.model import semsr
from recbole_semsr.model.base import RecBoleSessionView, as_session_model


def test_a_recbole_base_is_viewed_with_plain_dot_products_and_keeps_its_parameter_names(build_model, monkeypatch):
    monkeypatch.setattr(semsr, "load_item_embeddings", lambda config, dataset: torch.eye(10, 3))
    model = build_model(MODELS["SemGRU4Rec_F"], n_items=10, embedding_size=4, hidden_size=4).eval()  # no dropout
    view = model.base_view
    assert isinstance(view, RecBoleSessionView) and (view.logit_scale, view.cosine_scores) == (1.0, False)
    batch = make_batch([[1, 2, 3], [4]], [5, 6])
    assert torch.equal(view.session_vector(batch), model.base.forward(batch["item_id_list"], batch["item_length"]))
    assert torch.equal(view.item_table(torch.tensor([2, 7])), model.base.item_embedding.weight[[2, 7]])
    assert not any(name.startswith("base_view") for name in model.state_dict())
    assert "base.item_embedding.weight" in model.state_dict()


def test_a_session_model_is_its_own_view(build_model, monkeypatch):
    monkeypatch.setattr(semsr, "load_item_embeddings", lambda config, dataset: torch.eye(10, 3))
    model = build_model(MODELS["SemNISER_F"], n_items=10, embedding_size=4)
    assert as_session_model(model.base) is model.base
