"""Weighted hybrids `X~R` (recbole_semsr/hybrid.py): normalisation and fusion by hand, the weight chosen on
validation only, the benchmark plan, and an end-to-end run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from recbole.data.interaction import Interaction

from recbole_semsr.benchmark.runner import plan_runs, split_pair_name
from recbole_semsr.hybrid import choose_weight, evaluate_hybrid, fused, normalised, split_hybrid_name
from recbole_semsr.quick_start import run
from recbole_semsr.sample_ranks import ranks_at

INF = float("inf")


def test_scores_are_min_max_normalised_per_session_and_masked_items_stay_out():
    scores = torch.tensor([[-INF, 2.0, 4.0, 3.0], [-INF, -1.0, -1.0, -INF]])
    assert torch.equal(normalised(scores), torch.tensor([[-INF, 0.0, 1.0, 0.5], [-INF, 0.0, 0.0, -INF]]))


def test_fusion_mixes_with_the_weight():
    first = torch.tensor([[-INF, 0.0, 1.0, 0.5]])
    second = torch.tensor([[-INF, 1.0, 0.0, 0.25]])
    assert torch.allclose(fused(first, second, 0.25), torch.tensor([[-INF, 0.25, 0.75, 0.4375]]))
    assert torch.equal(fused(first, second, 0.0), first) and torch.equal(fused(first, second, 1.0), second)


class TableModel(torch.nn.Module):
    """Scores read from a column of the interaction: stands in for a trained model."""

    ITEM_SEQ = "item_id_list"

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def full_sort_predict(self, interaction):
        return interaction[self.column].clone()


def loader(first: list[list[float]], second: list[list[float]], targets: list[int]) -> list:
    interaction = Interaction({"a": torch.tensor(first), "b": torch.tensor(second),
                               "item_id_list": torch.zeros(len(targets), 1, dtype=torch.long)})
    return [(interaction, None, None, torch.tensor(targets))]


# 4 items (0 = padding). X ranks item 1 first, R ranks item 3 first; item 2 is second for both.
X_SCORES = [[0.0, 3.0, 2.0, 0.0]] * 2
R_SCORES = [[0.0, 0.0, 2.0, 3.0]] * 2


def test_the_weight_is_chosen_on_validation_and_only_it_is_tested():
    model, other = TableModel("a"), TableModel("b")
    valid = loader(X_SCORES, R_SCORES, [2, 2])  # item 2 wins only when both count: w = 0.5
    test = loader(X_SCORES, R_SCORES, [3, 3])  # on test, R alone (w = 1) would be best
    weights = [0.0, 0.5, 1.0]
    on_valid = evaluate_hybrid(model, other, valid, [1], weights, torch.device("cpu"))
    assert [on_valid[w].metrics["mrr@1"] for w in weights] == [0.0, 1.0, 0.0]
    chosen = choose_weight(on_valid, "MRR@1")
    assert chosen == 0.5
    on_test = evaluate_hybrid(model, other, test, [1], weights, torch.device("cpu"))
    assert max(weights, key=lambda w: on_test[w].metrics["mrr@1"]) == 1.0 != chosen
    assert on_test[chosen].metrics["mrr@1"] == 0.0


def test_ties_on_validation_choose_the_smallest_weight():
    on_valid = evaluate_hybrid(TableModel("a"), TableModel("b"), loader(X_SCORES, R_SCORES, [2, 2]), [3],
                               [0.0, 0.5, 1.0], torch.device("cpu"))
    assert choose_weight(on_valid, "recall@3") == 0.0
    with pytest.raises(ValueError, match="hybrid_metric MRR@20 is not computed"):
        choose_weight(on_valid, "MRR@20")


def test_names_and_the_benchmark_plan_wait_for_both_runs():
    assert split_hybrid_name("SemNISER_F~VSTAN") == ("SemNISER_F", "VSTAN")
    assert split_pair_name("SemNISER_F~VSTAN") == ("SemNISER_F", "VSTAN", "hybrid_with")
    assert split_pair_name("SemNISER_F+") == ("SemNISER_F", "NISER", "rerank_with")
    plan = plan_runs(["NISER", "POP", "NISER~POP"], ["d"], [1, 2])
    hybrids = [run for run in plan if run.model == "NISER~POP"]
    assert [run.seed for run in hybrids] == [1, 2]
    for hybrid in hybrids:
        assert {(plan[i].model, plan[i].seed) for i in hybrid.needs} == {("NISER", hybrid.seed), ("POP", 1)}


def test_a_hybrid_runs_end_to_end_and_records_its_weight(tiny_run_config):
    pop = run("POP", "ml-100k", config_dict=tiny_run_config, evaluate_test=False)
    result = run("NISER", "ml-100k", config_dict={**tiny_run_config, "hybrid_with": pop["checkpoint"],
                                                   "hybrid_weights": [0.0, 0.5, 1.0], "hybrid_metric": "MRR@20"})
    assert result["model"] == "NISER~POP" and result["hybrid_weight"] in (0.0, 0.5, 1.0)
    by_weight = result["hybrid_valid_by_weight"]
    assert result["best_valid_result"]["mrr@20"] == max(metrics["mrr@20"] for metrics in by_weight.values())
    if result["hybrid_weight"] == 0.0:
        assert result["test_result"]["recall@20"] == pytest.approx(result["base_test_result"]["recall@20"])
    ranks = ranks_at(result["test_ranks"], 20)
    assert result["test_result"]["recall@20"] == pytest.approx(float(np.mean(ranks > 0)), abs=1e-6)
    assert 0 < result["test_result"]["coverage@20"] <= 1
