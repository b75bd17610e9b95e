"""RecBole trainer with safe checkpoints (loadable with `weights_only=True`) and wall-clock timing."""
from __future__ import annotations

from time import perf_counter

import torch
from recbole.trainer import Trainer

from recbole_semsr.compat import safe_torch_load
from recbole_semsr.config import plain_config


class SemSRTrainer(Trainer):
    """`recbole.trainer.Trainer` whose checkpoints hold only tensors and plain Python values.

    RecBole pickles its whole `Config` into each checkpoint, which torch >= 2.6 refuses to load with
    `weights_only=True`; here the config is stored as a plain dict. Epoch and evaluation times are recorded in
    `epoch_seconds` and `eval_seconds`.
    """

    def __init__(self, config, model) -> None:
        super().__init__(config, model)
        self.epoch_seconds: list[float] = []
        self.eval_seconds: list[float] = []

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        start = perf_counter()
        loss = super()._train_epoch(train_data, epoch_idx, loss_func=loss_func, show_progress=show_progress)
        self.epoch_seconds.append(perf_counter() - start)
        return loss

    def _save_checkpoint(self, epoch, verbose=True, **kwargs) -> None:
        saved_model_file = kwargs.pop("saved_model_file", self.saved_model_file)
        state = {
            "config": plain_config(self.config),
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": float(self.best_valid_score),
            "state_dict": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }
        torch.save(state, saved_model_file)
        if verbose:
            self.logger.info(f"Saving current: {saved_model_file}")

    def resume_checkpoint(self, resume_file) -> None:
        checkpoint = safe_torch_load(str(resume_file), map_location=self.device)
        self.saved_model_file = str(resume_file)
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        self.model.load_state_dict(checkpoint["state_dict"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.logger.info(f"Checkpoint loaded. Resume training from epoch {self.start_epoch}")

    @torch.no_grad()
    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if load_best_model and eval_data:
            checkpoint_file = model_file or self.saved_model_file
            self.model.load_state_dict(safe_torch_load(checkpoint_file, map_location=self.device)["state_dict"])
            self.logger.info(f"Loading model parameters from {checkpoint_file}")
        start = perf_counter()
        result = super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)
        self.eval_seconds.append(perf_counter() - start)
        return result
