"""RecBole trainer with safe checkpoints (loadable with `weights_only=True`) and wall-clock timing."""
from __future__ import annotations

import os
import shutil
from time import perf_counter
from uuid import uuid4

import numpy as np
import torch
import torch.nn.functional as F
from recbole.trainer import Trainer
from recbole.utils import get_local_time

from recbole_semsr.compat import safe_torch_load
from recbole_semsr.list_metrics import TopKListStatistics
from recbole_semsr.config import plain_config
from recbole_semsr.rerank import mask_session_items
from recbole_semsr.model.base import remember_training_batch
from recbole_semsr.provenance import PROVENANCE_KEY, load_weights, read_checkpoint
from recbole_semsr.sample_ranks import target_ranks


class SemSRTrainer(Trainer):
    """`recbole.trainer.Trainer` whose checkpoints hold only tensors and plain Python values.

    RecBole pickles its whole `Config` into each checkpoint, which torch >= 2.6 refuses to load with
    `weights_only=True`; here the config is stored as a plain dict. Epoch and evaluation times are recorded in
    `epoch_seconds` and `eval_seconds`; `last_eval_ranks` holds the target rank of every sample of the last
    evaluation (`recbole_semsr.sample_ranks`); with `item_popularity` set, every evaluation also reports coverage and
    average popularity of its top-K lists (`recbole_semsr.list_metrics`). `data_provenance` (set by the runner, see `recbole_semsr.provenance`) is
    stored in every checkpoint, binding it to the data it was trained on. Checkpoint names carry a random suffix: RecBole names them by model and
    second only, so runs started in the same second (parallel tuning trials) would overwrite each other's. The
    checkpoint folder is created race-free before RecBole's check-then-create.

    Models with `trains_with_gradients = False` (the non-neural baselines, fitted when built) are not trained:
    `fit` evaluates them once on validation and saves their checkpoint (their config; they hold no tensors).
    """

    def __init__(self, config, model) -> None:
        os.makedirs(config["checkpoint_dir"], exist_ok=True)
        super().__init__(config, model)
        self.saved_model_file = unique_checkpoint_path(self.checkpoint_dir, config["model"])
        self.epoch_seconds: list[float] = []
        self.eval_seconds: list[float] = []
        self.data_provenance: dict | None = None
        self.last_eval_ranks: np.ndarray | None = None
        self.valid_history: list[dict[str, float]] = []
        self.item_popularity: np.ndarray | None = None
        self._batch_ranks: list[torch.Tensor] = []
        self._list_statistics: TopKListStatistics | None = None

    def _build_optimizer(self, **kwargs):
        if not trains_with_gradients(self.model):
            return None
        return super()._build_optimizer(**kwargs)

    def fit(self, train_data, valid_data=None, verbose=True, saved=True, show_progress=False, callback_fn=None):
        if trains_with_gradients(self.model):
            return super().fit(train_data, valid_data, verbose=verbose, saved=saved, show_progress=show_progress,
                               callback_fn=callback_fn)
        return self._fit_without_training(valid_data, saved, show_progress)

    def _fit_without_training(self, valid_data, saved: bool, show_progress: bool) -> tuple[float, dict | None]:
        """A model fitted when it was built: one validation pass, then its checkpoint."""
        self.logger.info(f"{type(self.model).__name__} was fitted on the training sessions in "
                         f"{self.model.fit_seconds:.1f} s (no gradient steps)")
        if valid_data:
            start = perf_counter()
            self.best_valid_score, self.best_valid_result = self._valid_epoch(valid_data, show_progress=show_progress)
            self.eval_seconds.append(perf_counter() - start)
        if saved:
            self._save_checkpoint(0, verbose=True)
        return self.best_valid_score, self.best_valid_result

    def _full_sort_batch_eval(self, batched_data):
        """RecBole's full-ranking batch, with the session's own items masked under `exclude_session_items`."""
        interaction, scores, positive_u, positive_i = super()._full_sort_batch_eval(batched_data)
        if self.config["exclude_session_items"]:
            mask_session_items(scores, interaction[self.model.ITEM_SEQ])
        self._batch_ranks.append(target_ranks(scores, positive_i, max(self.config["topk"])))
        if self._list_statistics is not None:
            self._list_statistics.add(scores)
        return interaction, scores, positive_u, positive_i

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        start = perf_counter()
        batch_loss = loss_func or self.model.calculate_loss
        if self.config["exclude_session_items"]:
            batch_loss = self._loss_without_session_items

        def loss_then_remember(interaction):
            loss = batch_loss(interaction)
            remember_training_batch(self.model)
            return loss

        loss = super()._train_epoch(train_data, epoch_idx, loss_func=loss_then_remember, show_progress=show_progress)
        self.epoch_seconds.append(perf_counter() - start)
        self._decay_learning_rate(epoch_idx)
        return loss

    def _decay_learning_rate(self, epoch_idx: int) -> None:
        """The step decay of the SR-GNN and NISER papers: after every `lr_decay_step` epochs the learning rate is
        multiplied by `lr_decay_rate` (off when `lr_decay_step` is ~). Kept in the optimizer state, so a resumed
        run continues with the decayed rate."""
        step = self.config["lr_decay_step"]
        if step and (epoch_idx + 1) % int(step) == 0:
            for group in self.optimizer.param_groups:
                group["lr"] *= float(self.config["lr_decay_rate"])

    def _valid_epoch(self, valid_data, show_progress=False):
        """RecBole's validation pass, its result kept in `valid_history` (one entry per validation)."""
        score, result = super()._valid_epoch(valid_data, show_progress=show_progress)
        self.valid_history.append({key: float(value) for key, value in result.items()})
        return score, result

    def _loss_without_session_items(self, interaction):
        """Cross-entropy over all items except the session's own (`exclude_session_items` in training): the model's
        full-ranking logits, which are its training logits under `loss_type: CE`."""
        if self.config["loss_type"] != "CE":
            raise ValueError(f"exclude_session_items masks the training softmax and needs loss_type CE, not "
                             f"{self.config['loss_type']}")
        logits = self.model.full_sort_predict(interaction).view(len(interaction), -1)
        targets = interaction[self.model.POS_ITEM_ID]
        return F.cross_entropy(mask_other_session_items(logits, interaction[self.model.ITEM_SEQ], targets), targets)

    def _save_checkpoint(self, epoch, verbose=True, **kwargs) -> None:
        saved_model_file = kwargs.pop("saved_model_file", self.saved_model_file)
        state = {
            "config": plain_config(self.config),
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": float(self.best_valid_score),
            "state_dict": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else {},
            PROVENANCE_KEY: self.data_provenance,
        }
        torch.save(state, saved_model_file)
        if verbose:
            self.logger.info(f"Saving current: {saved_model_file}")

    def resume_checkpoint(self, resume_file) -> None:
        """Continue from `resume_file`; it is copied to this run's checkpoint first, so it is never overwritten."""
        checkpoint = safe_torch_load(str(resume_file), map_location=self.device)
        shutil.copyfile(resume_file, self.saved_model_file)
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        load_weights(self.model, checkpoint["state_dict"], resume_file)
        if self.optimizer is not None:
            self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.logger.info(f"Checkpoint loaded. Resume training from epoch {self.start_epoch}")

    @torch.no_grad()
    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if load_best_model and eval_data:
            checkpoint_file = model_file or self.saved_model_file
            state = read_checkpoint(checkpoint_file, self.device)
            load_weights(self.model, state["state_dict"], checkpoint_file)
            self.logger.info(f"Loading model parameters from {checkpoint_file}")
        start = perf_counter()
        self._batch_ranks = []
        self._list_statistics = (None if self.item_popularity is None
                                 else TopKListStatistics(self.item_popularity, list(self.config["topk"])))
        result = super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)
        self.eval_seconds.append(perf_counter() - start)
        self.last_eval_ranks = torch.cat(self._batch_ranks).numpy() if self._batch_ranks else None
        if self._list_statistics is not None and result is not None:
            result.update(self._list_statistics.result())
        return result


def mask_other_session_items(logits: torch.Tensor, item_seq: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """`logits` [B, n_items] with the items of each session at -inf, except the row's target (a copy: autograd
    flows through the other entries). Padding (item 0) is masked too."""
    mask = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, item_seq, True)
    mask[torch.arange(len(targets), device=logits.device), targets] = False
    return logits.masked_fill(mask, -torch.inf)


def unique_checkpoint_path(checkpoint_dir: str, model: str) -> str:
    """``<checkpoint_dir>/<model>-<local time>-<6 hex digits>.pth``."""
    return os.path.join(checkpoint_dir, f"{model}-{get_local_time()}-{uuid4().hex[:6]}.pth")


def trains_with_gradients(model) -> bool:
    """False for the models fitted when built (no parameters to train)."""
    return getattr(model, "trains_with_gradients", True)
