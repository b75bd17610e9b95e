"""MSGAT: sparse attention, masking, overlap graph, determinism, leakage control, end-to-end run."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from conftest import SEQUENTIAL_FIELDS, StubDataset
from recbole_semsr.config import PROPERTIES_DIR
from recbole_semsr.data.session_graph import trim_padding
from recbole_semsr.model.msgat import (
    MSGAT,
    TargetGlobalAttention,
    TargetSelfAttention,
    jaccard_overlap,
    session_overlap_graph,
    top_k_neighbour_weights,
)
from reference_models import DenseSessionGraphs, padded_msgat_intra_session

N_ITEMS, MAX_LEN = 30, SEQUENTIAL_FIELDS["MAX_ITEM_LIST_LENGTH"]


def build_model(seed: int = 0, **overrides) -> MSGAT:
    """A small MSGAT (d = 8, 2 heads, memory of 16 sessions) with the YAML defaults under `overrides`."""
    config = yaml.safe_load((PROPERTIES_DIR / "model" / "MSGAT.yaml").read_text())
    config.update(SEQUENTIAL_FIELDS, device=torch.device("cpu"), embedding_size=8, n_heads=2, msgat_memory_size=16)
    config.update(overrides)
    torch.manual_seed(seed)
    return MSGAT(config, StubDataset(N_ITEMS))


def prefix_samples(sessions: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every prefix of every session (incremental sessions): item_seq [S, MAX_LEN], lengths, session ids, targets."""
    rows, lengths, ids, targets = [], [], [], []
    for session_id, items in enumerate(sessions):
        for end in range(1, len(items)):
            rows.append(items[:end] + [0] * (MAX_LEN - end))
            lengths.append(end)
            ids.append(session_id)
            targets.append(items[end])
    return torch.tensor(rows), torch.tensor(lengths), torch.tensor(ids), torch.tensor(targets)


TRAIN_SESSIONS = [[1, 2, 3, 4], [2, 3, 5], [6, 7, 6, 8, 9], [1, 5, 9, 10], [11, 12, 13], [4, 3, 2, 1, 14]]
TEST_SESSIONS = [[1, 2, 3, 15, 4], [6, 7, 8, 9, 16], [12, 13, 11, 2], [5, 9, 10, 17]]
N_TEST = sum(len(items) - 1 for items in TEST_SESSIONS)
FILE_ORDER = torch.arange(N_TEST)


def train_steps(model: MSGAT, steps: int = 3, batch_size: int = 5) -> None:
    """A few optimiser steps over the training prefixes (fills the memory)."""
    item_seq, lengths, ids, targets = prefix_samples(TRAIN_SESSIONS)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for step in range(steps):
        rows = torch.arange(step * batch_size, (step + 1) * batch_size) % len(targets)
        logits = model.logit_scale * model(item_seq[rows], lengths[rows], ids[rows] + 100) @ model.item_table().t()
        loss = torch.nn.functional.cross_entropy(logits, targets[rows])
        model.remember_training_batch()
        assert torch.isfinite(loss)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()


def eval_scores(model: MSGAT, order: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Full-ranking logits of every test prefix, evaluated in `order` and batches of `batch_size`, in file order."""
    item_seq, lengths, ids, _ = prefix_samples(TEST_SESSIONS)
    scores = torch.full((len(lengths), N_ITEMS), float("nan"))
    with torch.no_grad():
        for batch in order.split(batch_size):
            session = model(item_seq[batch], lengths[batch], ids[batch] + 1000)
            scores[batch] = model.logit_scale * session @ model.item_table().t()
    return scores


@pytest.fixture(scope="module")
def trained() -> dict[str, MSGAT]:
    """One briefly trained model per neighbour source, shared by the tests that only evaluate."""
    models = {source: build_model(msgat_neighbour_source=source) for source in ("memory", "batch")}
    for model in models.values():
        train_steps(model)
    return models


def test_self_attention_weights_are_sparse_sum_to_one_and_skip_padding_keys_and_queries() -> None:
    torch.manual_seed(1)
    attention = TargetSelfAttention(dim=8, n_heads=2, dropout=0.0, entmax_iter=50)
    tokens = 5.0 * torch.randn(3, 7, 8)
    key_mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 2 + [True], [True] * 2 + [False] * 4 + [True]])
    weights, _ = attention.attention_weights(tokens, key_mask)
    assert weights.shape == (3, 2, 7, 7)
    torch.testing.assert_close(weights.sum(dim=-1), key_mask[:, None, :].expand(3, 2, 7).float())
    assert torch.all(weights[~key_mask[:, None, None, :].expand_as(weights)] == 0)
    exact_zeros_on_real_keys = (weights == 0) & key_mask[:, None, None, :]
    assert exact_zeros_on_real_keys.any(), "alpha-entmax should give some real keys exactly zero weight"
    (weights[..., 0] ** 2).sum().backward()
    assert attention.head_alpha.weight.grad.abs().sum() > 0, "the entmax alpha is learned"


def test_global_attention_weights_are_sparse_and_sum_to_one() -> None:
    torch.manual_seed(2)
    attention = TargetGlobalAttention(dim=8, entmax_iter=50)
    keys, target = 5.0 * torch.randn(4, 6, 8), torch.randn(4, 8)
    mask = torch.arange(6) < torch.tensor([6, 4, 2, 1]).unsqueeze(1)
    weights = attention.attention_weights(keys, target, mask)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(4))
    assert torch.all(weights[~mask] == 0)
    assert ((weights == 0) & mask).any()
    assert weights[3, 0] == 1.0, "a one-item session puts all weight on its item"


@pytest.mark.parametrize("source", ["memory", "batch"])
def test_padded_item_ids_do_not_change_the_output(trained: dict[str, MSGAT], source: str) -> None:
    model = trained[source]
    item_seq, lengths, ids, _ = prefix_samples(TEST_SESSIONS)
    garbage = item_seq.clone()
    padded = torch.arange(MAX_LEN) >= lengths.unsqueeze(1)
    garbage[padded] = torch.randint(1, N_ITEMS, (int(padded.sum()),))
    with torch.no_grad():
        clean_out = model(item_seq, lengths, ids)
        garbage_out = model(garbage, lengths, ids)
    torch.testing.assert_close(clean_out, garbage_out)


def test_overlap_graph_of_a_hand_made_batch() -> None:
    # Item sets {1,2,3}, {2,3,4}, {5}, {3}; Jaccard: (0,1) = 2/4, (0,3) = 1/3, (1,3) = 1/3, others 0; diagonal 1.
    nodes = torch.tensor([[1, 2, 3], [2, 3, 4], [5, 0, 0], [3, 0, 0]])
    adjacency = torch.tensor(
        [[1, 1 / 2, 0, 1 / 3], [1 / 2, 1, 0, 1 / 3], [0, 0, 1, 0], [1 / 3, 1 / 3, 0, 1]]
    )
    expected = adjacency / adjacency.sum(dim=1, keepdim=True)
    torch.testing.assert_close(session_overlap_graph(nodes), expected)
    memory = torch.tensor([[3, 4, 6, 0], [7, 0, 0, 0]])
    torch.testing.assert_close(
        jaccard_overlap(nodes, memory), torch.tensor([[1 / 5, 0], [2 / 4, 0], [0, 0], [1 / 3, 0]])
    )


def test_neighbour_weights_keep_top_k_and_ignore_unusable_candidates() -> None:
    similarity = torch.tensor([[1.0, 0.9, -0.5, 0.2], [1.0, float("-inf"), float("-inf"), float("-inf")]])
    weights, index = top_k_neighbour_weights(similarity, k=3)
    assert index[0].tolist() == [0, 1, 3]
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2))
    assert weights[1].tolist() == [1.0, 0.0, 0.0]


def test_same_seed_same_training_same_scores() -> None:
    scores = []
    for _ in range(2):
        model = build_model(seed=7)
        torch.manual_seed(7)
        train_steps(model)
        scores.append(eval_scores(model, FILE_ORDER, batch_size=4))
    torch.testing.assert_close(scores[0], scores[1], rtol=0, atol=0)


def test_memory_scores_do_not_depend_on_test_batching(trained: dict[str, MSGAT]) -> None:
    model = trained["memory"]
    in_order = eval_scores(model, FILE_ORDER, batch_size=4)
    shuffled = eval_scores(model, torch.randperm(N_TEST, generator=torch.Generator().manual_seed(3)), batch_size=3)
    torch.testing.assert_close(in_order, shuffled, rtol=1e-5, atol=1e-5)


def test_batch_source_scores_depend_on_test_batching(trained: dict[str, MSGAT]) -> None:
    """The official in-batch behaviour, kept for reproduction: a test score changes with the batch it sits in."""
    model = trained["batch"]
    in_order = eval_scores(model, FILE_ORDER, batch_size=4)
    shuffled = eval_scores(model, torch.randperm(N_TEST, generator=torch.Generator().manual_seed(3)), batch_size=3)
    assert not torch.allclose(in_order, shuffled, atol=1e-4)


def test_memory_entries_of_the_same_session_are_ignored() -> None:
    """A memory holding only (longer) prefixes of the query's own session acts like an empty memory."""
    model = build_model()
    model.eval()
    query, query_len = torch.tensor([[1, 2, 0, 0, 0, 0]]), torch.tensor([2])
    with torch.no_grad():
        alone = model(query, query_len, torch.tensor([5]))
        own_prefixes = torch.tensor([[1, 2, 3, 0, 0, 0], [1, 2, 3, 4, 0, 0]])
        nodes = torch.tensor([[1, 2, 3, 0, 0, 0], [1, 2, 3, 4, 0, 0]])
        model.memory.write(own_prefixes, torch.tensor([3, 4]), nodes, torch.tensor([5, 5]), torch.randn(2, 8))
        model.mark_memory_stale()
        with_own_prefixes = model(query, query_len, torch.tensor([5]))
        other_session = model(query, query_len, torch.tensor([6]))
    torch.testing.assert_close(alone, with_own_prefixes)
    assert not torch.allclose(alone, other_session)


def test_memory_survives_a_checkpoint_round_trip(trained: dict[str, MSGAT], tmp_path: Path) -> None:
    model = trained["memory"]
    before = eval_scores(model, FILE_ORDER, batch_size=4)
    torch.save(model.state_dict(), tmp_path / "msgat.pth")
    restored = build_model(seed=99)
    restored.load_state_dict(torch.load(tmp_path / "msgat.pth", weights_only=True))
    restored.eval()
    torch.testing.assert_close(eval_scores(restored, FILE_ORDER, batch_size=4), before)


def test_one_epoch_end_to_end_on_an_ml100k_slice(tiny_run_config: dict) -> None:
    from recbole_semsr.quick_start import run

    result = run("MSGAT", "ml-100k", config_dict={**tiny_run_config, "n_heads": 4, "msgat_memory_size": 256})
    assert result["model"] == "MSGAT" and result["epochs"] == 1
    metrics = ("recall@20", "mrr@20", "recall@100", "mrr@100")
    assert all(0.0 <= result["test_result"][key] <= 1.0 for key in metrics)
    assert result["test_result"]["recall@20"] <= result["test_result"]["recall@100"]
    assert result["config"]["msgat_neighbour_source"] == "memory"
    checkpoint = torch.load(result["checkpoint"], weights_only=True)
    assert int(checkpoint["state_dict"]["memory.filled"]) == 256, "the memory is saved with the weights"


def test_length_buckets_only_change_speed(trained: dict[str, MSGAT]) -> None:
    model = trained["memory"]
    item_seq, lengths, ids, _ = prefix_samples(TEST_SESSIONS)
    buckets = model.length_buckets
    assert buckets > 1
    with torch.no_grad():
        bucketed = model(item_seq, lengths, ids)
        model.length_buckets = 1
        try:
            single_group = model(item_seq, lengths, ids)
        finally:
            model.length_buckets = buckets
    torch.testing.assert_close(bucketed, single_group, rtol=1e-5, atol=1e-5)


def test_forward_never_writes_the_memory_the_trainer_does() -> None:
    model = build_model()
    item_seq, lengths, ids, _ = prefix_samples(TRAIN_SESSIONS)
    model.train()
    model(item_seq[:4], lengths[:4], ids[:4])
    assert len(model.memory) == 0
    model.remember_training_batch()
    assert len(model.memory) == 4
    model.remember_training_batch()  # nothing new since
    assert len(model.memory) == 4


def padded_reference_vectors(model: MSGAT, item_seq: torch.Tensor, lengths: torch.Tensor):
    """(intra-session vectors, graph nodes) as the padded reference computes them, in one group."""
    nodes = DenseSessionGraphs(item_seq, lengths).nodes[:, : int(lengths.max())]
    return padded_msgat_intra_session(model, trim_padding(item_seq, lengths), lengths), nodes


def test_packed_channel_gives_the_padded_reference_scores(trained: dict[str, MSGAT], monkeypatch) -> None:
    """Row packing and the Newton entmax change no score: the same cosine scores to 1e-5 as the padded computation
    with the `entmax` package's bisection (the code before both), on the test prefixes of a trained model."""
    model = trained["memory"]
    item_seq, lengths, ids, _ = prefix_samples(TEST_SESSIONS)
    with torch.no_grad():
        packed_vectors, packed_nodes = model.bucketed_intra_session_vectors(item_seq, lengths)
        reference_vectors, reference_nodes = padded_reference_vectors(model, item_seq, lengths)
        assert torch.equal(packed_nodes, reference_nodes)
        torch.testing.assert_close(packed_vectors, reference_vectors, rtol=0, atol=1e-6)
        packed_scores = eval_scores(model, FILE_ORDER, 7) / model.logit_scale
        model.mark_memory_stale()
        monkeypatch.setattr(model, "bucketed_intra_session_vectors",
                            lambda seq, seq_len: padded_reference_vectors(model, seq, seq_len))
        reference_scores = eval_scores(model, FILE_ORDER, 7) / model.logit_scale
    model.mark_memory_stale()
    torch.testing.assert_close(packed_scores, reference_scores, rtol=0, atol=1e-5)


def test_packed_channel_gives_the_padded_reference_gradients(monkeypatch) -> None:
    item_seq, lengths, ids, targets = prefix_samples(TRAIN_SESSIONS)
    gradients = []
    for packed in (True, False):
        model = build_model(seed=3, attention_dropout=0.0, neighbour_dropout=0.0)
        train_steps(model, steps=2)
        model.train()
        if not packed:
            monkeypatch.setattr(model, "bucketed_intra_session_vectors",
                                lambda seq, seq_len, model=model: padded_reference_vectors(model, seq, seq_len))
        logits = model.logit_scale * model(item_seq, lengths, ids) @ model.item_table().t()
        torch.nn.functional.cross_entropy(logits, targets).backward()
        gradients.append({name: p.grad for name, p in model.named_parameters() if p.grad is not None})
    assert gradients[0].keys() == gradients[1].keys() and len(gradients[0]) > 10
    for name, gradient in gradients[1].items():
        torch.testing.assert_close(gradients[0][name], gradient, rtol=1e-4, atol=1e-6, msg=name)
