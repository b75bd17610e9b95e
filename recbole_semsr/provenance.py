"""What a checkpoint was trained on, and the checks that refuse to use it on other data.

Every checkpoint of the runner stores, under ``"data"``, the model, the dataset, a SHA-256 of each atomic file
RecBole read and a SHA-256 of the item-token -> id mapping (plain values, so ``torch.load(weights_only=True)``
still reads it). Before a checkpoint is evaluated (``model_file``, tuning's reload of the chosen trial) or used to
re-rank (``rerank_with``), that record is compared with the data of the current run: any difference is refused
with one line naming both sides, unless ``allow_split_mismatch`` is set, and then the result records it.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import torch

from recbole_semsr.compat import safe_torch_load
from recbole_semsr.config import dataset_dir

logger = logging.getLogger(__name__)
PROVENANCE_KEY = "data"
OVERRIDE_HINT = "pass --allow_split_mismatch to use it anyway"


class CheckpointMismatchError(ValueError):
    """A checkpoint does not belong to the data or the model of the current run (or cannot be read)."""


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_files(config: Any) -> list[Path]:
    """The interaction files RecBole reads for this run: ``<dataset>.<part>.inter`` per benchmark part, else
    ``<dataset>.inter``."""
    folder, name = dataset_dir(config), config["dataset"]
    parts = config["benchmark_filename"] or []
    return [folder / f"{name}.{part}.inter" for part in parts] if parts else [folder / f"{name}.inter"]


def item_mapping_sha256(tokens: list[str]) -> str:
    """Hex SHA-256 of the item tokens in id order (id 0, the padding token, included)."""
    return hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()


def data_provenance(config: Any, dataset: Any) -> dict[str, Any]:
    """The record stored in each checkpoint and result: model, dataset, file hashes, item mapping hash."""
    item_field = config["ITEM_ID_FIELD"]
    tokens = [str(token) for token in dataset.field2id_token[item_field]]
    return {
        "model": str(config["model"]),
        "dataset": str(config["dataset"]),
        "files": {path.name: file_sha256(path) for path in atomic_files(config) if path.is_file()},
        "n_items": len(tokens),
        "item_mapping_sha256": item_mapping_sha256(tokens),
    }


def read_checkpoint(path: str | Path, device: Any = "cpu") -> dict[str, Any]:
    """A runner checkpoint (tensors and plain values only), or one line saying why it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointMismatchError(f"checkpoint {path} not found (expected a .pth file written by the runner)")
    try:
        state = safe_torch_load(str(path), map_location=device)
    except Exception as error:  # torch raises pickle, zip and runtime errors for foreign or damaged files
        raise CheckpointMismatchError(f"{path}: not a checkpoint of this package ({_first_line(error)})") from error
    if not isinstance(state, dict) or "state_dict" not in state:
        raise CheckpointMismatchError(f"{path}: not a checkpoint of this package (no state_dict)")
    return state


def data_mismatches(saved: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """What differs between a checkpoint's data record and the current run's, one phrase per difference."""
    if not saved:
        return ["the checkpoint records no data fingerprint (saved before fingerprints existed)"]
    found = []
    if saved.get("dataset") != current["dataset"]:
        found.append(f"dataset {saved.get('dataset')!r} vs {current['dataset']!r}")
    saved_files, current_files = saved.get("files", {}), current["files"]
    for name in sorted(set(saved_files) | set(current_files)):
        before, now = saved_files.get(name), current_files.get(name)
        if before != now:
            found.append(f"{name} sha256 {_short(before)} vs {_short(now)}")
    if saved.get("item_mapping_sha256") != current["item_mapping_sha256"]:
        found.append(f"item id mapping ({saved.get('n_items')} items, sha256 {_short(saved.get('item_mapping_sha256'))}"
                     f" vs {current['n_items']} items, sha256 {_short(current['item_mapping_sha256'])})")
    return found


def check_checkpoint_data(state: dict[str, Any], path: str | Path, current: dict[str, Any], allow: bool,
                          expected_model: str | None = None) -> list[str]:
    """Refuse a checkpoint trained on other data (or holding another model than ``expected_model``).

    Returns the differences that ``allow`` let through (empty when the data matches); a model mismatch is
    always refused, since its weights cannot fit.
    """
    saved = state.get(PROVENANCE_KEY)
    saved_model = (saved or {}).get("model") or (state.get("config") or {}).get("model")
    if expected_model is not None and saved_model and saved_model != expected_model:
        raise CheckpointMismatchError(f"{path} holds a {saved_model} model, this run is {expected_model}")
    found = data_mismatches(saved, current)
    if not found:
        return []
    where = f"{path} (trained on {(saved or {}).get('dataset', '?')}) vs this run's {current['dataset']}"
    if not allow:
        raise CheckpointMismatchError(f"{where}: different data: {'; '.join(found)}; {OVERRIDE_HINT}")
    logger.warning(f"{where}: different data, used because allow_split_mismatch is set: {'; '.join(found)}")
    return [f"{path}: {phrase}" for phrase in found]


def load_weights(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], path: str | Path) -> None:
    """``model.load_state_dict`` with a one-line error naming the first tensors that do not fit."""
    own = model.state_dict()
    problems = [f"{key} is {list(value.shape)} in the checkpoint, {list(own[key].shape)} here"
                for key, value in state_dict.items() if key in own and own[key].shape != value.shape]
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    problems += [f"{len(missing)} tensors missing (e.g. {missing[0]})"] if missing else []
    problems += [f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})"] if unexpected else []
    if problems:
        raise CheckpointMismatchError(
            f"{path} does not fit the {type(model).__name__} built for this run: {'; '.join(problems[:3])} "
            "(other hyperparameters or other data than at training)")
    model.load_state_dict(state_dict)


def _short(digest: str | None) -> str:
    return "absent" if digest is None else digest[:12]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
