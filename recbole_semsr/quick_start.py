"""One entry point to train and evaluate any model (this package's or RecBole's) on a session dataset."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from logging import getLogger
from pathlib import Path
from statistics import mean
from typing import Any

from recbole.data import create_dataset, data_preparation
from recbole.utils import init_logger, init_seed

from recbole_semsr.config import SemSRConfig, checked_config, dataset_dir, dataset_root, plain_config
from recbole_semsr.hybrid import choose_weight, evaluate_hybrid, hybrid_name
from recbole_semsr.io import write_json
from recbole_semsr.list_metrics import training_popularity
from recbole_semsr.model import get_model
from recbole_semsr.preflight import ConfigValueError
from recbole_semsr.provenance import check_checkpoint_data, data_provenance, read_checkpoint
from recbole_semsr.rerank import evaluate_reranked, load_reranker, plus_name, rerank_source
from recbole_semsr.sample_ranks import stored_full_ranks, stored_ranks_at_k, targets_sha256
from recbole_semsr.trainer import SemSRTrainer


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; `checkpoint` is the best epoch saved so far (None when none was saved)."""

    def __init__(self, checkpoint: str | None) -> None:
        super().__init__(checkpoint)
        self.checkpoint = checkpoint


def run(model: str, dataset: str, config_file_list: list[str] | None = None, config_dict: dict | None = None,
        evaluate_test: bool = True) -> dict[str, Any]:
    """Train `model` on `dataset`, select the best epoch on validation, evaluate it on test.

    With `model_file` set in the config, the saved model is evaluated instead of trained (epochs = 0); it must
    have been trained on the same data (`recbole_semsr.provenance`) unless `allow_split_mismatch` is set.
    With `epochs` 0 the untrained model is evaluated. With `rerank_with` (a checkpoint, or a model name trained first
    with the same settings) the record is the "+" row's; with `hybrid_with` the hybrid's. Returns the result record
    (see docs/architecture.md): model, dataset, best_valid_result, test_result (None when `evaluate_test` is False),
    seconds_per_epoch (None without training), eval_seconds, epochs, checkpoint, data (the data fingerprint), config,
    and split_mismatch when a mismatch was allowed. Ctrl-C while training raises `RunInterrupted` naming the
    checkpoint kept.
    """
    config = checked_config(model, dataset, config_file_list, config_dict)
    if config["hybrid_with"]:
        check_hybrid_settings(config)
    reranker_checkpoint = (reranker_checkpoint_for(config, config_file_list, config_dict)
                           if config["rerank_with"] else None)
    trained = train_and_evaluate(config, evaluate_test)
    result = trained.result
    if reranker_checkpoint is not None:
        reranker = load_reranker(reranker_checkpoint, config, trained.train_dataset, trained.mismatches)
        result = reranked_result(trained, reranker, reranker_checkpoint)
    if config["hybrid_with"]:
        other = load_reranker(config["hybrid_with"], config, trained.train_dataset, trained.mismatches)
        result = hybrid_result(trained, other)
    if trained.mismatches:
        result = {**result, "split_mismatch": {"allowed_by": "allow_split_mismatch",
                                               "differences": trained.mismatches}}
    getLogger().info(f"best valid: {result['best_valid_result']}")
    getLogger().info(f"test: {result['test_result']}")
    return result


def reranker_checkpoint_for(config: SemSRConfig, config_file_list: list[str] | None,
                            config_dict: dict | None) -> str:
    """The checkpoint of the "+" row's reranker: `rerank_with` itself when it is a file, else the checkpoint of the
    model it names, trained (validation only) with this run's settings, `rerank_with` left out. A path that does not
    exist, or a name that is no model, is refused before any training."""
    kind, source = rerank_source(str(config["rerank_with"]))
    if kind == "checkpoint":
        return str(source)
    overrides = {key: value for key, value in (config_dict or {}).items() if key != "rerank_with"}
    reranker_config = checked_config(source, config["dataset"], config_file_list, overrides)
    return train_and_evaluate(reranker_config, evaluate_test=False).result["checkpoint"]


@dataclass
class TrainedRun:
    """One model trained (or loaded) and evaluated: its result record, and what a "+" row or a hybrid evaluates
    it with again."""

    config: SemSRConfig
    result: dict[str, Any]
    model: Any
    train_dataset: Any
    valid_data: Any
    test_data: Any
    mismatches: list[str]


def train_and_evaluate(config: SemSRConfig, evaluate_test: bool = True) -> TrainedRun:
    """Train `config`'s model (or evaluate its `model_file`) and evaluate it: the record of `run` without the "+"
    and hybrid settings."""
    init_seed(config["seed"], config["reproducibility"])
    start_run_log(config)
    logger = getLogger()
    prepare_dataset(config)

    data = create_dataset(config)
    logger.info(data)
    check_topk(config, data.item_num - 1)
    train_data, valid_data, test_data = data_preparation(config, data)

    init_seed(config["seed"], config["reproducibility"])
    recommender = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    logger.info(recommender)
    trainer = SemSRTrainer(config, recommender)
    trainer.data_provenance = data_provenance(config, data)
    trainer.item_popularity = training_popularity(train_data._dataset)
    mismatches: list[str] = []
    if config["model_file"]:
        best_valid_result = evaluate_saved_model(trainer, config["model_file"], valid_data, mismatches)
    else:
        if config["resume_file"]:
            resume_from(trainer, config["resume_file"], mismatches)
        best_valid_result = train(trainer, train_data, valid_data)
    test_result = (
        trainer.evaluate(test_data, load_best_model=True, show_progress=config["show_progress"])
        if evaluate_test else None
    )
    result = {
        "model": config["model"],
        "dataset": config["dataset"],
        "best_valid_result": _floats(best_valid_result),
        "test_result": _floats(test_result),
        "seconds_per_epoch": mean(trainer.epoch_seconds) if trainer.epoch_seconds else None,
        "fit_seconds": getattr(recommender, "fit_seconds", None),
        "eval_seconds": mean(trainer.eval_seconds) if trainer.eval_seconds else None,
        "epochs": len(trainer.epoch_seconds),
        "valid_history": trainer.valid_history,
        "checkpoint": trainer.saved_model_file,
        "data": trainer.data_provenance,
        "config": plain_config(config),
    }
    if test_result is not None:
        result["test_ranks"] = stored_full_ranks(trainer.last_eval_ranks, eval_targets_hash(test_data))
    return TrainedRun(config, result, trainer.model, train_data._dataset, valid_data, test_data, mismatches)


_run_log_handlers: list[logging.Handler] = []
RECBOLE_LOG_ROOT = "log"  # where `recbole.utils.init_logger` writes, relative to the working directory


def start_run_log(config: SemSRConfig) -> None:
    """RecBole's `init_logger`, after closing the handlers it attached for the previous run of this process.

    `init_logger` attaches its handlers with `logging.basicConfig`, which does nothing while the root logger has
    handlers: without this, every run after the first in one process (benchmark, tuning) would log into the first
    run's file and leave its own file empty. The log folder is created first, race-free: RecBole checks for it and
    then creates it, which fails when a parallel run (a tuning trial) creates it in between.
    """
    Path(RECBOLE_LOG_ROOT, config["model"]).mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in _run_log_handlers:
        root.removeHandler(handler)
        handler.close()
    attached_before = set(root.handlers)
    init_logger(config)
    _run_log_handlers[:] = [handler for handler in root.handlers if handler not in attached_before]


def train(trainer: SemSRTrainer, train_data, valid_data) -> dict:
    """Fit with the best epoch kept on valid; the valid result of the untrained model when `epochs` is 0."""
    show_progress = trainer.config["show_progress"]
    try:
        _, best_valid_result = trainer.fit(train_data, valid_data, saved=True, show_progress=show_progress)
    except KeyboardInterrupt as interrupt:
        saved = trainer.saved_model_file if Path(trainer.saved_model_file).is_file() else None
        raise RunInterrupted(saved) from interrupt
    if best_valid_result is None:
        best_valid_result = trainer.evaluate(valid_data, load_best_model=True, show_progress=show_progress)
    return best_valid_result


def resume_from(trainer: SemSRTrainer, resume_file: str, mismatches: list[str]) -> None:
    """Continue training from a runner checkpoint (`resume_file`), checked like `model_file`: this run's model on
    this run's data (else `CheckpointMismatchError`, unless `allow_split_mismatch`)."""
    config = trainer.config
    state = read_checkpoint(resume_file, trainer.device)
    mismatches += check_checkpoint_data(state, resume_file, trainer.data_provenance,
                                        bool(config["allow_split_mismatch"]), expected_model=config["model"])
    trainer.resume_checkpoint(resume_file)


def evaluate_saved_model(trainer: SemSRTrainer, model_file: str, valid_data, mismatches: list[str]) -> dict:
    """Evaluate a runner checkpoint on valid instead of training (`model_file`); test then uses it too.

    The checkpoint must hold this run's model, trained on this run's data (else `CheckpointMismatchError`, unless
    `allow_split_mismatch`: the differences are then appended to `mismatches`).
    """
    config = trainer.config
    state = read_checkpoint(model_file, trainer.device)
    mismatches += check_checkpoint_data(state, model_file, trainer.data_provenance,
                                        bool(config["allow_split_mismatch"]), expected_model=config["model"])
    trainer.saved_model_file = str(model_file)
    return trainer.evaluate(valid_data, load_best_model=True, show_progress=config["show_progress"])


def reranked_result(trained: TrainedRun, reranker, source: str) -> dict[str, Any]:
    """The "+" row's record: the metrics of `trained`'s top-K lists reordered by `reranker` (loaded from the
    checkpoint `source`). The un-reranked metrics stay under `base_valid_result` / `base_test_result`."""
    config, result = trained.config, trained.result
    ks = list(config["topk"])
    exclude = bool(config["exclude_session_items"])
    valid = evaluate_reranked(trained.model, reranker, trained.valid_data, ks, config["device"], exclude)
    reranked = {
        **result,
        "model": plus_name(config["model"], type(reranker).__name__),
        "reranker": str(source),
        "base_valid_result": result["best_valid_result"],
        "base_test_result": result["test_result"],
        "best_valid_result": {**list_metrics(result["best_valid_result"]), **valid.metrics},
    }
    if result["test_result"] is not None:
        test = evaluate_reranked(trained.model, reranker, trained.test_data, ks, config["device"], exclude)
        reranked["test_result"] = {**list_metrics(result["test_result"]), **test.metrics}
        reranked["test_ranks"] = stored_ranks_at_k(test.ranks, eval_targets_hash(trained.test_data))
    return reranked


def check_hybrid_settings(config: SemSRConfig) -> None:
    """`hybrid_with` is an existing checkpoint, not combined with `rerank_with`; checked before any work."""
    if config["rerank_with"]:
        raise ConfigValueError("rerank_with and hybrid_with cannot be combined: run the '+' row and the hybrid apart")
    if not Path(str(config["hybrid_with"])).is_file():
        raise FileNotFoundError(f"hybrid_with={config['hybrid_with']}: no such checkpoint file")


def hybrid_result(trained: TrainedRun, other) -> dict[str, Any]:
    """The hybrid `X~R`'s record (`other` the model of `hybrid_with`): the weight with the best validation
    `hybrid_metric`, then test at that weight only (`recbole_semsr.hybrid`). The model's own metrics stay under
    `base_valid_result` / `base_test_result`; every weight's validation metrics under `hybrid_valid_by_weight`."""
    config, result = trained.config, trained.result
    ks, exclude = list(config["topk"]), bool(config["exclude_session_items"])
    weights = [float(weight) for weight in config["hybrid_weights"]]
    metric = str(config["hybrid_metric"] or config["valid_metric"])
    popularity = training_popularity(trained.train_dataset)
    valid = evaluate_hybrid(trained.model, other, trained.valid_data, ks, weights, config["device"], exclude,
                            popularity)
    weight = choose_weight(valid, metric)
    hybrid = {
        **result,
        "model": hybrid_name(config["model"], type(other).__name__),
        "hybrid_with": str(config["hybrid_with"]),
        "hybrid_weight": weight,
        "hybrid_metric": metric.lower(),
        "hybrid_valid_by_weight": {str(w): found.metrics for w, found in valid.items()},
        "base_valid_result": result["best_valid_result"],
        "base_test_result": result["test_result"],
        "best_valid_result": valid[weight].metrics,
    }
    if result["test_result"] is not None:
        test = evaluate_hybrid(trained.model, other, trained.test_data, ks, [weight], config["device"], exclude,
                               popularity)[weight]
        hybrid["test_result"] = test.metrics
        hybrid["test_ranks"] = stored_full_ranks(test.ranks, eval_targets_hash(trained.test_data))
    return hybrid


LIST_METRICS = ("coverage@", "averagepopularity@")
"""Metrics of the set of items in each top-K list, which re-ordering inside the list leaves unchanged."""


def list_metrics(result: dict[str, float]) -> dict[str, float]:
    """The entries of `result` that a "+" row shares with the model it re-orders."""
    return {key: value for key, value in result.items() if key.startswith(LIST_METRICS)}


def eval_targets_hash(eval_data) -> str:
    """SHA-256 of the raw target ids of an evaluation loader's samples, in file order (the order they are scored)."""
    dataset = eval_data._dataset
    field = dataset.iid_field
    return targets_sha256(dataset.id2token(field, dataset.inter_feat[field].numpy()))


def prepare_dataset(config: SemSRConfig) -> None:
    """Make sure the dataset's atomic files exist, converting raw files first when needed; a conversion prints the
    converter's summary (counts, removals, bad records) as its own command line does."""
    from dataset_converters.prepare import conversion_summary, ensure_dataset

    stats = ensure_dataset(config["dataset"], dataset_root(config), Path(config["raw_data_path"]))
    if stats is not None:
        print(conversion_summary(config["dataset"], dataset_dir(config), stats), flush=True)


def check_topk(config: SemSRConfig, n_items: int) -> None:
    """Refuse a `topk` larger than the number of items (a top-K list over fewer items cannot be filled), and a
    `valid_metric` at a K that `topk` does not compute."""
    topk = list(config["topk"])
    too_large = [k for k in topk if k > n_items]
    if too_large:
        raise ConfigValueError(f"topk {topk}: dataset {config['dataset']} has only {n_items} items, so top-{max(too_large)} "
                         f"lists cannot be filled; set e.g. --topk=[{min(n_items, 20)}] "
                         f"--valid_metric=Recall@{min(n_items, 20)}")
    metric, _, k = str(config["valid_metric"]).partition("@")
    if k.isdigit() and int(k) not in topk:
        raise ConfigValueError(f"valid_metric {config['valid_metric']} needs {k} in topk {topk}; set e.g. "
                         f"--valid_metric={metric}@{max(topk)}")


def write_result(result: dict[str, Any], path: str | Path) -> None:
    """Write a result record as indented JSON, creating parent folders (atomically)."""
    write_json(path, result)


def _floats(result: dict | None) -> dict[str, float] | None:
    return None if result is None else {key: float(value) for key, value in result.items()}


