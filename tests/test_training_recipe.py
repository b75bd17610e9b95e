"""Training-recipe switches: `exclude_session_items` (the session's own items never ranked, in evaluation and in the
training softmax) and the step decay of the learning rate."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from recbole_semsr import trainer as trainer_module
from recbole_semsr.quick_start import run
from recbole_semsr.rerank import mask_session_items
from recbole_semsr.trainer import mask_other_session_items

INF = float("inf")


def test_training_mask_removes_exactly_the_other_session_items():
    logits = torch.arange(10.0).view(2, 5).requires_grad_()
    item_seq = torch.tensor([[1, 2, 0], [3, 4, 0]])
    targets = torch.tensor([4, 3])  # row 1's target is in its own session: it stays
    masked = mask_other_session_items(logits, item_seq, targets)
    assert torch.equal(masked, torch.tensor([[-INF, -INF, -INF, 3.0, 4.0], [-INF, 6.0, 7.0, 8.0, -INF]]))
    loss = F.cross_entropy(masked, targets)
    by_hand = -(torch.log_softmax(torch.tensor([3.0, 4.0]), 0)[1] + torch.log_softmax(torch.tensor([6.0, 7, 8]), 0)[2]) / 2
    assert torch.isclose(loss, by_hand)
    loss.backward()
    assert torch.equal(logits.grad[0, :3], torch.zeros(3)) and logits.grad[1, 4] == 0


def test_evaluation_mask_removes_exactly_the_session_items():
    scores = torch.ones(2, 5)
    mask_session_items(scores, torch.tensor([[1, 2, 0], [4, 0, 0]]))
    assert torch.equal(torch.isinf(scores), torch.tensor([[True, True, True, False, False],
                                                          [True, False, False, False, True]]))


def test_a_run_with_the_switch_trains_and_evaluates_without_the_session_items(tiny_run_config, monkeypatch):
    calls = []

    def recording(logits, item_seq, targets):
        calls.append(len(targets))
        return mask_other_session_items(logits, item_seq, targets)

    monkeypatch.setattr(trainer_module, "mask_other_session_items", recording)
    result = run("NISER", "ml-100k", config_dict={**tiny_run_config, "exclude_session_items": True})
    assert calls and result["config"]["exclude_session_items"] is True
    plain = run("NISER", "ml-100k", config_dict=tiny_run_config)
    assert result["test_result"] != plain["test_result"]


def test_the_learning_rate_decays_in_steps(tiny_run_config):
    from recbole_semsr.config import SemSRConfig
    from recbole_semsr.trainer import SemSRTrainer
    from recbole_semsr.model import get_model
    from recbole.data import create_dataset

    config = SemSRConfig("NISER", "ml-100k", config_dict={**tiny_run_config, "lr_decay_step": 2,
                                                          "lr_decay_rate": 0.5, "learning_rate": 0.01})
    dataset = create_dataset(config)
    trainer = SemSRTrainer(config, get_model("NISER")(config, dataset))
    rates = []
    for epoch in range(5):
        trainer._decay_learning_rate(epoch)
        rates.append(trainer.optimizer.param_groups[0]["lr"])
    assert rates == [0.01, 0.005, 0.005, 0.0025, 0.0025]


def test_the_selection_metric_is_honoured(tiny_run_config):
    settings = {**tiny_run_config, "epochs": 6, "stopping_step": 6, "learning_rate": 0.01}
    records = {metric: run("NISER", "ml-100k", config_dict={**settings, "valid_metric": metric})
               for metric in ("MRR@20", "Recall@100")}
    chosen = {}
    for metric, result in records.items():
        history = result["valid_history"]
        assert len(history) == 6
        chosen[metric] = max(range(6), key=lambda epoch: (history[epoch][metric.lower()], -epoch))
        assert result["best_valid_result"] == history[chosen[metric]]
    assert chosen["MRR@20"] != chosen["Recall@100"]  # on this slice the two criteria pick different epochs
