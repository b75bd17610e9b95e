"""Non-neural session baselines: each score against a hand computation from its paper's formula on a toy split."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from recbole.data.interaction import Interaction

from conftest import SEQUENTIAL_FIELDS, make_batch
from recbole_semsr.data.training_sessions import sessions_from_prefixes
from recbole_semsr.model import MODELS, NON_NEURAL_MODELS
from recbole_semsr.model.session_knn import distinct_items, top_k_per_row

# Four training sessions over items 1..6 (7 ids with the padding 0); session 1 repeats item 2.
SESSIONS = [[1, 2, 3], [2, 3, 4, 2], [5, 1, 3], [6, 4]]
N_ITEMS = 7
E = math.e


class PrefixDataset:
    """The part of a RecBole training dataset the baselines read: every prefix of each session as one row."""

    def __init__(self, sessions: list[list[int]], width: int = 8, times: list[float] | None = None) -> None:
        rows = [(sid, s[:cut], s[cut]) for sid, s in enumerate(sessions, start=1) for cut in range(1, len(s))]
        prefixes = torch.zeros(len(rows), width, dtype=torch.long)
        for row, (_, prefix, _) in enumerate(rows):
            prefixes[row, : len(prefix)] = torch.tensor(prefix)
        self.inter_feat = Interaction({
            "session_id": torch.tensor([sid for sid, _, _ in rows]),
            "item_id_list": prefixes,
            "item_length": torch.tensor([len(prefix) for _, prefix, _ in rows]),
            "item_id": torch.tensor([target for _, _, target in rows]),
        })
        self.uid_field, self.iid_field, self.time_field = "session_id", "item_id", None
        if times is not None:
            self.time_field = "timestamp"
            self.inter_feat.update(Interaction({"timestamp": torch.tensor([times[sid - 1] for sid, _, _ in rows])}))
        self.config = SEQUENTIAL_FIELDS
        self.item_num = N_ITEMS

    def num(self, field: str) -> int:
        return self.item_num


def build(name: str, times: list[float] | None = None, **config):
    values = {**SEQUENTIAL_FIELDS, "device": torch.device("cpu"), "fallback_popularity": False,
              "knn_neighbours": 100, "knn_sample_size": 0, "knn_remind": True, "lambda_idf": 0.0, **config}
    return MODELS[name](values, PrefixDataset(SESSIONS, times=times))


def scores(model, session: list[int]) -> np.ndarray:
    return model.full_sort_predict(make_batch([session], [1]))[0].numpy()


def test_sessions_are_rebuilt_from_their_longest_prefix():
    dataset = PrefixDataset(SESSIONS)
    feat = dataset.inter_feat
    sessions = sessions_from_prefixes(feat["session_id"].numpy(), feat["item_id_list"].numpy(),
                                      feat["item_length"].numpy(), feat["item_id"].numpy(), N_ITEMS)
    assert sessions.lengths.tolist() == [3, 4, 3, 2]
    assert [row[:n].tolist() for row, n in zip(sessions.items, sessions.lengths)] == SESSIONS


def test_rows_outside_their_session_are_counted(caplog):
    prefixes = np.array([[1, 0], [1, 2], [5, 0]])
    sessions = sessions_from_prefixes(np.array([1, 1, 1]), prefixes, np.array([1, 2, 1]), np.array([2, 3, 6]),
                                      N_ITEMS)
    assert sessions.items[0, :3].tolist() == [1, 2, 3]
    assert "1 training rows are not a prefix" in caplog.text


def test_distinct_items_keep_the_last_occurrence():
    distinct = distinct_items(np.array([[2, 3, 4, 2, 0]]), np.array([4]))
    assert distinct.items[0].tolist() == [3, 4, 2]
    assert distinct.positions[0].tolist() == [2, 3, 4]


def test_top_k_per_row_breaks_ties_by_the_lower_column():
    import scipy.sparse as sp

    matrix = sp.csr_matrix(np.array([[0.5, 0.0, 0.5, 0.9], [0.0, 0.2, 0.0, 0.0]]))
    kept = top_k_per_row(matrix, 2).toarray()
    assert kept.tolist() == [[0.5, 0.0, 0.0, 0.9], [0.0, 0.2, 0.0, 0.0]]


def test_pop_counts_training_events():
    assert np.allclose(scores(build("POP"), [1]), [0, 2, 3, 3, 2, 1, 1])


def test_ties_are_broken_by_popularity_then_the_lower_item_id():
    got = scores(build("POP"), [1])
    assert np.argsort(-got, kind="stable").tolist() == [2, 3, 1, 4, 5, 6, 0]
    sr = scores(build("SR", sr_steps=1, sr_pruning=0), [2, 3])  # rules of 3: 3 -> 4 (1) only
    assert sr[4] > 0 and sr[2] == 0 and sr.dtype == np.float64


def test_sr_rules_weight_one_over_the_distance():
    model = build("SR", sr_steps=2, sr_pruning=0)
    # rules of item 3: 3 -> 4 at distance 1 (session 2), 3 -> 2 at distance 2 (session 2)
    assert np.allclose(scores(model, [1, 3]), [0, 0, 0.5, 0, 1, 0, 0])
    # rules of item 1: 1 -> 2 (1), 1 -> 3 at distance 2 in session 1 (1/2) and 1 in session 3 (1)
    assert np.allclose(scores(model, [5, 1]), [0, 0, 1, 1.5, 0, 0, 0])
    pruned = build("SR", sr_steps=2, sr_pruning=1)
    assert np.allclose(scores(pruned, [1, 3]), [0, 0, 0, 0, 1, 0, 0])


def test_vsknn_against_hand_computation():
    # s = [1, 3]: weights p / |s| -> item 1: 1/2, item 3: 1; sim = sum / 2 distinct items
    # sessions 1 and 3 hold both (sim 3/4), session 2 holds item 3 (sim 1/2); the most recent shared item is the
    # last one for all three, so w = 1 / (2 - 2 + 1) = 1
    model = build("VSKNN", knn_neighbours=3)
    expected = np.zeros(N_ITEMS)
    for items, sim in (({1, 2, 3}, 0.75), ({2, 3, 4}, 0.5), ({5, 1, 3}, 0.75)):
        for item in items:
            expected[item] += sim
    assert np.allclose(scores(model, [1, 3]), expected)
    top_two = build("VSKNN", knn_neighbours=2)
    assert np.allclose(scores(top_two, [1, 3]), [0, 1.5, 0.75, 1.5, 0, 0.75, 0])


def test_vsknn_decay_follows_the_most_recent_shared_item():
    # s = [4, 5]: session 3 shares only item 5 (position 2): w = 1; sessions 2 and 4 share only item 4 (position 1):
    # w = 1 / (2 - 1 + 1) = 1/2; sims: item 4 -> 1/2 / 2 = 1/4, item 5 -> 1 / 2 = 1/2
    expected = np.zeros(N_ITEMS)
    for items, sim, w in (({2, 3, 4}, 0.25, 0.5), ({5, 1, 3}, 0.5, 1.0), ({6, 4}, 0.25, 0.5)):
        for item in items:
            expected[item] += sim * w
    assert np.allclose(scores(build("VSKNN"), [4, 5]), expected)


def test_remind_false_never_recommends_the_session_items():
    with_items = scores(build("VSKNN", knn_neighbours=3), [1, 3])
    without = scores(build("VSKNN", knn_neighbours=3, knn_remind=False), [1, 3])
    assert without[1] == without[3] == 0
    assert np.allclose(np.delete(without, [1, 3]), np.delete(with_items, [1, 3]))


def test_stan_against_hand_computation():
    # s = [1, 3]: w1(1) = e^-1, w1(3) = 1 (lambda_spw = 1); sim = sum w1 / sqrt(2 * |n|)
    # w3 = exp(-|p_n(i) - p_n(3)|) (lambda_inh = 1): item 3 is the most recent item of s in every neighbour
    model = build("STAN", knn_neighbours=3, lambda_spw=1.0, lambda_snh=None, lambda_inh=1.0)
    c = (1 / E + 1) / math.sqrt(6)
    d = 1 / math.sqrt(6)
    expected = np.zeros(N_ITEMS)
    expected[1] = c * E**-2 + c * E**-1      # session 1: item 1 at 1, item 3 at 3; session 3: item 1 at 2, 3 at 3
    expected[2] = c * E**-1 + d * E**-2      # session 1: 2 at 2; session 2: 2 last at 4, 3 at 2
    expected[3] = c + c + d
    expected[4] = d * E**-1
    expected[5] = c * E**-2
    assert np.allclose(scores(model, [1, 3]), expected)


def test_vstan_adds_sequence_aware_and_idf_weights():
    # s = [3, 6]: w1(3) = e^-1, w1(6) = 1; session 4 [6, 4] shares item 6 (p* = 2), sessions 1-3 share item 3 (p* = 1)
    model = build("VSTAN", knn_neighbours=4, lambda_spw=1.0, lambda_snh=None, lambda_inh=1.0, lambda_ipw=1.0,
                  lambda_idf=2.0)
    idf = {item: math.log(4 / count) for item, count in {1: 2, 2: 2, 3: 3, 4: 2, 5: 1, 6: 1}.items()}
    sim_3 = E**-1 / math.sqrt(2 * 3)
    sim_4 = 1 / math.sqrt(2 * 2)
    ipw_3, ipw_4 = E**-1, 1.0
    # item 4: session 2 (position 3, item 3 at 2) and session 4 (position 2, item 6 at 1)
    item_4 = sim_3 * E**-1 * ipw_3 + sim_4 * E**-1 * ipw_4
    # item 5: session 3 only (position 1, item 3 at 3)
    item_5 = sim_3 * E**-2 * ipw_3
    got = scores(model, [3, 6])
    assert got[4] == pytest.approx(item_4 * (1 + 2 * idf[4]))
    assert got[5] == pytest.approx(item_5 * (1 + 2 * idf[5]))


def test_unscored_items_follow_by_popularity():
    model = build("SR", sr_steps=2, sr_pruning=0, fallback_popularity=True)
    got = scores(model, [1, 3])
    assert got[4] == pytest.approx(1) and got[2] == pytest.approx(0.5)
    unscored = [1, 3, 5, 6]
    assert all(-1 <= got[item] < 0 for item in unscored)
    assert got[3] > got[1] > got[5]  # 3 events, 2 events, 1 event


def test_baselines_have_no_training_loss():
    with pytest.raises(TypeError, match="no training loss"):
        build("POP").calculate_loss(make_batch([[1]], [2]))


@pytest.mark.parametrize("model", [cls.__name__ for cls in NON_NEURAL_MODELS])
def test_every_baseline_runs_through_the_runner(model, tiny_run_config, tmp_path):
    from recbole_semsr.cli import main

    result_file = tmp_path / f"{model}.json"
    overrides = [f"--{key}={value}" for key, value in tiny_run_config.items()]
    result = main(["--model", model, "--dataset", "ml-100k", "--result_file", str(result_file), *overrides])
    assert result["epochs"] == 0 and result["fit_seconds"] is not None
    assert 0 < result["test_result"]["recall@20"] <= 1
    assert result_file.is_file()


def test_non_neural_reranker_keeps_the_top_k_set_and_names_itself(tiny_run_config):
    from recbole_semsr.quick_start import run

    niser = run("NISER", "ml-100k", config_dict=tiny_run_config, evaluate_test=False)
    stan = run("STAN", "ml-100k", config_dict=tiny_run_config, evaluate_test=False)
    result = run("NISER", "ml-100k", config_dict={**tiny_run_config, "model_file": niser["checkpoint"],
                                                  "rerank_with": stan["checkpoint"]})
    assert result["model"] == "NISER+STAN"
    for k in (20, 100):
        assert result["test_result"][f"recall@{k}"] == pytest.approx(result["base_test_result"][f"recall@{k}"])
    assert result["test_result"]["mrr@20"] != result["base_test_result"]["mrr@20"]


def test_reranker_ties_keep_the_first_models_order():
    from recbole_semsr.rerank import reranked_hits

    scores = torch.tensor([[0.0, 0.9, 0.8, 0.7, 0.6, 0.1]])
    tied = torch.tensor([[0.0, 0.0, 0.5, 0.0, 0.0, 0.9]])   # items 1, 3, 4 tie; item 5 is outside the top 4
    ranks = [reranked_hits(scores, tied, torch.tensor([item]), 4).item() for item in (1, 2, 3, 4, 5)]
    assert ranks == [2, 1, 3, 4, 0]


def test_scoring_in_row_chunks_gives_the_same_scores(monkeypatch):
    from recbole_semsr.model import session_knn

    model = build("VSTAN", knn_neighbours=3, lambda_spw=1.0, lambda_snh=None, lambda_inh=1.0, lambda_ipw=1.0,
                  lambda_idf=1.0)
    batch = make_batch([[1, 3], [3, 6], [4, 5, 4], [2]], [1, 1, 1, 1])
    whole = model.full_sort_predict(batch)
    monkeypatch.setattr(session_knn, "MAX_TABLE_ENTRIES", N_ITEMS)  # one session per chunk
    assert torch.equal(model.full_sort_predict(batch), whole)


DAY = 86400.0


def test_stan_neighbour_recency_with_a_time_field():
    # sessions end at days 0, 1, 2, 3: w2(n) = exp(-(3 - t_n) / 1 day); s = [1, 3] meets sessions 1, 2, 3
    stan = dict(knn_neighbours=3, lambda_spw=1.0, lambda_snh=1.0, lambda_inh=1.0)
    model = build("STAN", times=[0.0, DAY, 2 * DAY, 3 * DAY], **stan)
    c = (1 / E + 1) / math.sqrt(6)
    got = scores(model, [1, 3])
    assert got[5] == pytest.approx(c * E**-2 * E**-1)            # session 3 only, w3 = e^-2, w2 = e^-1
    assert got[4] == pytest.approx(E**-1 / math.sqrt(6) * E**-2)  # session 2 only, w3 = e^-1, w2 = e^-2
    recent = build("STAN", times=[0.0, DAY, 2 * DAY, 3 * DAY], knn_sample_size=1, **stan)
    got = scores(recent, [1, 3])
    assert got[2] == 0 and got[4] == 0 and got[5] > 0             # only the most recent candidate, session 3
