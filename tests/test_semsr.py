from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_batch
from recbole_semsr.model import MODELS
from recbole_semsr.model import semsr
from recbole_semsr.model.semsr import SemanticFusion, initialise_from_llm, pca_projection
from recbole_semsr.quick_start import run
from recbole_semsr.rerank import reranked_hits

N_ITEMS, LLM_DIM = 10, 6


@pytest.fixture
def llm_table(monkeypatch) -> torch.Tensor:
    """Fixed 'LLM' vectors served to the Sem models instead of encoding item text."""
    table = torch.randn(N_ITEMS, LLM_DIM, generator=torch.Generator().manual_seed(1))
    table[0] = 0
    monkeypatch.setattr(semsr, "load_item_embeddings", lambda config, dataset: table.clone())
    return table


def hand_llm_session(readout, items: list[torch.Tensor], attended: list[torch.Tensor]) -> torch.Tensor:
    """s_l = W3 [sum_j alpha_j i_j; i_last], alpha = softmax over the attended items of q^T sigmoid(W1 i_last + W2 i_j + c)."""
    last = items[-1]
    c = readout.w_seq.bias
    raw = [readout.q.weight[0] @ torch.sigmoid(readout.w_last.weight @ last + readout.w_seq.weight @ i_j + c)
           for i_j in attended]
    alpha = torch.softmax(torch.stack(raw), dim=0)
    s_prime = sum(a * i_j for a, i_j in zip(alpha, attended))
    return readout.w_out.weight @ torch.cat([s_prime, last])


@pytest.mark.parametrize("attend_last", [False, True])
def test_fusion_equations_against_hand_computation(attend_last):
    torch.manual_seed(0)
    llm = torch.randn(5, 3)
    fusion = SemanticFusion(llm, base_dim=2, fused_dim=2, attend_last=attend_last)
    item_seq, lengths = torch.tensor([[2, 4, 1]]), torch.tensor([3])
    s_m = torch.tensor([[0.5, -1.0]])

    items = [llm[i] for i in (2, 4, 1)]
    s_l = hand_llm_session(fusion.llm_session.readout, items, items if attend_last else items[:-1])
    s = fusion.session_projection.weight @ torch.cat([s_m[0], s_l])
    assert torch.allclose(fusion.session(s_m, item_seq, lengths)[0], s, atol=1e-6)

    i_m = torch.randn(5, 2)
    w5 = torch.cat([fusion.item_projection_m.weight, fusion.item_projection_l.weight], dim=1)
    assert torch.allclose(fusion.items(i_m), torch.cat([i_m, llm], dim=1) @ w5.t(), atol=1e-6)
    ids = torch.tensor([3, 1])
    assert torch.allclose(fusion.items(i_m[ids], ids), (torch.cat([i_m, llm], dim=1) @ w5.t())[ids], atol=1e-6)


def test_last_item_enters_the_llm_session_only_through_the_concatenation():
    torch.manual_seed(0)
    llm = torch.randn(6, 3)
    fusion = SemanticFusion(llm, base_dim=2, fused_dim=2)
    encoder = fusion.llm_session
    with torch.no_grad():
        encoder.readout.w_last.weight.zero_()  # alpha then no longer reads the last item
    item_seq, lengths = torch.tensor([[2, 4, 1]]), torch.tensor([3])
    before = encoder(llm[item_seq], lengths)
    moved = llm.clone()
    moved[1] += torch.tensor([1.0, -2.0, 0.5])
    after = encoder(moved[item_seq], lengths)
    w3_last = encoder.readout.w_out.weight[:, 3:]
    assert torch.allclose(after - before, (w3_last @ (moved[1] - llm[1])).unsqueeze(0), atol=1e-6)


def test_one_item_session_has_no_attended_items():
    torch.manual_seed(0)
    llm = torch.randn(4, 3)
    encoder = SemanticFusion(llm, base_dim=2, fused_dim=2).llm_session
    s_l = encoder(llm[torch.tensor([[3, 0]])], torch.tensor([1]))
    expected = encoder.readout.w_out.weight @ torch.cat([torch.zeros(3), llm[3]])
    assert torch.isfinite(s_l).all()
    assert torch.allclose(s_l[0], expected, atol=1e-6)


def test_llm_table_is_frozen_while_the_id_table_trains(build_model, llm_table):
    model = build_model(MODELS["SemNISER_F"], n_items=N_ITEMS, embedding_size=4, sem_fused_size=None,
                        sem_normalize=True, sem_logit_scale=16.0)
    assert all(p is not model.fusion.llm_table for p in model.parameters())
    before_llm = model.fusion.llm_table.clone()
    before_ids = model.base.item_embedding.weight.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.calculate_loss(make_batch([[1, 2, 3], [4, 5]], [6, 7])).backward()
    assert model.fusion.llm_table.grad is None
    optimizer.step()
    assert torch.equal(model.fusion.llm_table, before_llm)
    assert not torch.allclose(model.base.item_embedding.weight, before_ids)
    assert "fusion.llm_table" not in model.state_dict()


def test_semantic_init_starts_from_the_projected_llm_vectors(build_model, llm_table):
    model = build_model(MODELS["SemNISER_I"], n_items=N_ITEMS, embedding_size=4)
    weight = model.item_embedding.weight.detach()[1:].double()
    centred = llm_table[1:].double().numpy() - llm_table[1:].double().numpy().mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    projected = torch.from_numpy(centred @ vt[:4].T)
    # equal up to one global scale and the sign of each principal axis: compare Gram matrices
    gram, expected = weight @ weight.t(), projected @ projected.t()
    assert torch.allclose(gram / gram.norm(), expected / expected.norm(), atol=1e-5)


def test_pca_projection_zero_pads_when_asked_for_more_dimensions_than_exist():
    vectors = torch.randn(3, 5)
    assert pca_projection(vectors, 6).shape == (3, 6)
    assert pca_projection(vectors, 6)[:, 3:].abs().max() < 1e-5


def test_initialise_from_llm_keeps_the_padding_row():
    embedding = torch.nn.Embedding(4, 2, padding_idx=0)
    initialise_from_llm(embedding, torch.randn(4, 3))
    assert torch.equal(embedding.weight[0], torch.zeros(2))


def test_rerank_keeps_the_top_k_set_and_orders_by_the_reranker():
    scores = torch.tensor([[0.0, 0.9, 0.8, 0.7, 0.1, 0.05]])
    reranker = torch.tensor([[0.0, 0.1, 0.2, 0.3, 0.9, 0.8]])
    # top-3 of scores is {1, 2, 3}; reordered by the reranker: 3, 2, 1 (items 4, 5 stay out)
    assert reranked_hits(scores, reranker, torch.tensor([1]), 3).item() == 3
    assert reranked_hits(scores, reranker, torch.tensor([3]), 3).item() == 1
    assert reranked_hits(scores, reranker, torch.tensor([4]), 3).item() == 0
    generator = torch.Generator().manual_seed(0)
    scores, reranker = torch.randn(64, 30, generator=generator), torch.randn(64, 30, generator=generator)
    targets = torch.randint(1, 30, (64,), generator=generator)
    for k in (1, 5, 20):
        in_top_k = (scores.topk(k).indices == targets.unsqueeze(1)).any(dim=1)
        assert torch.equal(reranked_hits(scores, reranker, targets, k) > 0, in_top_k)


SEM_MODELS = sorted(name for name in MODELS if name.startswith("Sem"))


@pytest.mark.parametrize("model", SEM_MODELS)
def test_every_registered_sem_model_runs_one_epoch(model, tiny_run_config):
    result = run(model, "ml-100k", config_dict=tiny_run_config)
    assert result["epochs"] == 1 and 0 <= result["test_result"]["recall@100"] <= 1


def test_plus_variant_keeps_recall_and_moves_mrr(tiny_run_config):
    niser = run("NISER", "ml-100k", config_dict=tiny_run_config, evaluate_test=False)
    result = run("SemNISER_F", "ml-100k", config_dict={**tiny_run_config, "rerank_with": niser["checkpoint"]})
    assert result["model"] == "SemNISER_F+"
    for k in (20, 100):
        assert result["test_result"][f"recall@{k}"] == pytest.approx(result["base_test_result"][f"recall@{k}"])
    assert result["test_result"]["mrr@100"] != result["base_test_result"]["mrr@100"]


def test_plus_row_trains_a_named_reranker_first_and_returns_a_new_record(tiny_run_config, monkeypatch):
    import recbole_semsr.quick_start as quick_start

    trained_models = []
    train_and_evaluate = quick_start.train_and_evaluate

    def recording(config, evaluate_test=True):
        trained_models.append((config["model"], evaluate_test))
        return train_and_evaluate(config, evaluate_test)

    monkeypatch.setattr(quick_start, "train_and_evaluate", recording)
    monkeypatch.setattr(quick_start, "run", lambda *a, **k: pytest.fail("run called itself"))
    result = run("NISER", "ml-100k", config_dict={**tiny_run_config, "rerank_with": "POP"})
    assert trained_models == [("POP", False), ("NISER", True)]
    assert result["model"] == "NISER+POP"
    assert result["reranker"].endswith(".pth") and Path(result["reranker"]).is_file()
    assert set(result["base_test_result"]) >= {"recall@20", "mrr@20"}


def test_fused_model_takes_s_m_from_the_base_models_session_vector(build_model, llm_table):
    from recbole_semsr.model.base import SessionModel
    from recbole_semsr.model.semsr import fused

    class SessionIdBase(SessionModel):
        """s_m = the session id broadcast: proves the base saw the whole interaction (MSGAT needs the ids)."""

        def __init__(self, config, dataset):
            super().__init__(config, dataset)
            self.item_embedding = torch.nn.Embedding(self.n_items, 2)

        def forward(self, item_seq, item_seq_len):
            return torch.zeros(len(item_seq), 2)

        def session_vector(self, interaction):
            return interaction[self.USER_ID].float().unsqueeze(1).expand(-1, 2)

    model = build_model(fused(SessionIdBase), n_items=N_ITEMS, sem_fused_size=None, sem_normalize=False,
                        sem_logit_scale=1.0)
    batch = make_batch([[1, 2], [3]], [4, 5])
    batch.update(type(batch)({"session_id": torch.tensor([7, 9])}))
    expected = model.fuse_session(torch.tensor([[7.0, 7.0], [9.0, 9.0]]), batch["item_id_list"], batch["item_length"])
    assert torch.allclose(model.session_vector(batch), expected)


@pytest.mark.parametrize("sigma", [16.0, 4.0])
def test_fused_niser_follows_the_base_models_sigma_and_cosine_scoring(build_model, llm_table, sigma):
    model = build_model(MODELS["SemNISER_F"], n_items=N_ITEMS, embedding_size=4, sigma=sigma)
    assert model.logit_scale == sigma == model.base.logit_scale
    assert model.normalize
    pinned = build_model(MODELS["SemNISER_F"], n_items=N_ITEMS, embedding_size=4, sigma=sigma,
                         sem_logit_scale=2.0, sem_normalize=False)
    assert (pinned.logit_scale, pinned.normalize) == (2.0, False)


def test_fused_recbole_model_keeps_a_plain_dot_product(build_model, llm_table):
    model = build_model(MODELS["SemGRU4Rec_F"], n_items=N_ITEMS, embedding_size=4, hidden_size=4)
    assert (model.logit_scale, model.normalize) == (1.0, False)


def test_the_command_line_sigma_reaches_the_sem_variant():
    from recbole_semsr.config import SemSRConfig

    config = SemSRConfig("SemNISER_F", "ml-100k", config_dict={"sigma": 4.0})
    assert config["sigma"] == 4.0
    assert config["sem_logit_scale"] is None and config["sem_normalize"] is None


def test_every_sem_variant_is_named_after_its_module_attribute_and_covers_every_base():
    from recbole_semsr.model import sem_models

    for cls in sem_models.SEM_MODELS:
        assert getattr(sem_models, cls.__name__) is cls and MODELS[cls.__name__] is cls
    bases = sem_models.PAPER_BASES + sem_models.RECBOLE_BASES
    assert {cls.__name__ for cls in sem_models.SEM_MODELS} == {f"Sem{b.__name__}_{v}" for b in bases for v in "IF"}


def test_truncated_svd_projection_keeps_inner_products_of_low_rank_vectors():
    basis = torch.randn(2, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    vectors = (torch.randn(7, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) @ basis).float()
    projected, kept = semsr.truncated_svd_projection(vectors, 2)
    assert projected.shape == (7, 2)
    assert kept == pytest.approx(1.0)
    assert torch.allclose(projected @ projected.t(), vectors @ vectors.t(), atol=1e-4)
    one_dim, kept_one = semsr.truncated_svd_projection(vectors, 1)
    assert 0 < kept_one < 1
    assert kept_one == pytest.approx(float(one_dim.square().sum() / vectors.square().sum()), rel=1e-5)


def test_sem_llm_dim_reduces_the_llm_table_and_keeps_the_padding_row_zero(build_model, llm_table):
    model = build_model(MODELS["SemNISER_F"], n_items=N_ITEMS, embedding_size=4, sem_llm_dim=3)
    assert model.fusion.llm_table.shape == (N_ITEMS, 3)
    assert torch.equal(model.fusion.llm_table[0], torch.zeros(3))
    assert model.fusion.item_projection_l.in_features == 3
    model.calculate_loss(make_batch([[1, 2, 3], [4, 5]], [6, 7])).backward()
    assert model.fusion.item_projection_l.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="sem_llm_dim must be between 1 and the LLM vector size 6, got 7"):
        build_model(MODELS["SemNISER_F"], n_items=N_ITEMS, embedding_size=4, sem_llm_dim=7)


def test_bf16_item_precision_approximates_the_float32_logits_and_trains(build_model, llm_table):
    batch = make_batch([[1, 2, 3], [4, 5], [6, 7, 8, 9]], [6, 7, 1])
    exact = build_model(MODELS["SemNISER_F"], n_items=N_ITEMS, embedding_size=4, item_dropout=0.0).eval()
    fast = build_model(MODELS["SemNISER_F"], n_items=N_ITEMS, embedding_size=4, item_dropout=0.0,
                       sem_item_precision="bf16").eval()
    assert fast.fusion.llm_table.dtype == torch.bfloat16
    with torch.no_grad():
        exact_logits, fast_logits = exact.full_sort_predict(batch), fast.full_sort_predict(batch)
    assert fast_logits.dtype == torch.float32
    assert not torch.equal(exact_logits, fast_logits), "bf16 products must differ somewhere from float32"
    assert torch.allclose(exact_logits / exact.logit_scale, fast_logits / fast.logit_scale, atol=2e-2)
    fast.train()
    fast.calculate_loss(batch).backward()
    assert fast.fusion.item_projection_l.weight.grad.dtype == torch.float32
    assert fast.fusion.item_projection_l.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="sem_item_precision must be one of"):
        build_model(MODELS["SemNISER_F"], n_items=N_ITEMS, embedding_size=4, sem_item_precision="fp8")


def test_llm_entries_below_1e_30_become_zero_and_no_other_entry_changes(build_model, llm_table):
    llm_table[1, 0], llm_table[2, 3], llm_table[3, 1] = 4e-38, -1e-35, 2e-30
    model = build_model(MODELS["SemNISER_F"], n_items=N_ITEMS, embedding_size=4)
    stored = model.fusion.llm_table
    assert stored[1, 0] == 0 and stored[2, 3] == 0
    tiny = (llm_table.abs() < 1e-30) & (llm_table != 0)
    assert tiny.sum() == 2
    assert torch.equal(stored[~tiny], llm_table[~tiny]), "entries of 1e-30 and above are kept bit for bit"
    model.calculate_loss(make_batch([[1, 2, 3], [2, 1]], [4, 5])).backward()
    gradient = model.fusion.llm_session.readout.w_last.weight.grad
    assert not ((gradient != 0) & (gradient.abs() < torch.finfo(torch.float32).tiny)).any()
