"""Make sure a dataset's atomic files exist before RecBole reads them (called by the runner and by `llm_rec`).

`ensure_dataset` looks the dataset up in the registry (`dataset_converters.registry`): it is a no-op when the
benchmark files exist; converts when the declared raw files are found in `raw_data_path`; otherwise raises
`DatasetNotFoundError` naming the files, where to download them, and the command. A conversion that cannot go on
raises `ConversionError`. This module is the converters' interface to the package core (the runner, `llm_rec`,
the command lines): the core imports no other converter module.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from dataset_converters.problems import ConversionError
from dataset_converters.registry import SPLITS, DatasetSpec, RawFile, find_dataset

__all__ = ["ConversionError", "DatasetNotFoundError", "conversion_summary", "ensure_dataset"]


class DatasetNotFoundError(FileNotFoundError):
    """Neither the converted files nor the raw files of a dataset were found."""


def benchmark_files(dataset: str, data_path: Path, with_item_file: bool = True) -> list[Path]:
    """The files RecBole's ``benchmark_filename`` reads, plus the item text file unless ``with_item_file`` is False."""
    folder = Path(data_path) / dataset
    inter_files = [folder / f"{dataset}.{split}.inter" for split in SPLITS]
    return inter_files + [folder / f"{dataset}.item"] if with_item_file else inter_files


def find_raw_file(folders: list[Path], raw: RawFile) -> Path | None:
    """The first existing file among ``raw.names`` (exact names before patterns) in ``folders``."""
    for folder in folders:
        for name in raw.names:
            matches = sorted(folder.glob(name)) if any(c in name for c in "*?[") else [folder / name]
            found = [path for path in matches if path.is_file()]
            if found:
                return found[0]
    return None


def ensure_dataset(dataset: str, data_path: Path, raw_data_path: Path | None) -> dict | None:
    """Convert ``dataset`` into ``data_path/<dataset>`` from ``raw_data_path`` unless its files already exist.

    Returns the converter's stats when it converted (print them with `dataset_converters.stats.format_stats`),
    None when there was nothing to do. A dataset no converter declares needs its benchmark files (written by
    `python -m dataset_converters.sessions`), or a plain RecBole `<dataset>.inter`, which is cut into sessions.
    """
    spec = find_dataset(dataset)
    if spec is None:
        return ensure_own_dataset(dataset, Path(data_path))
    if all(path.is_file() for path in benchmark_files(dataset, data_path, spec.writes_item_file)):
        return None
    folders = [] if raw_data_path is None else [Path(raw_data_path), Path(raw_data_path) / dataset]
    found = {raw.flag: find_raw_file(folders, raw) for raw in spec.raw_files}
    if any(found[raw.flag] is None for raw in spec.raw_files if not raw.optional):
        raise DatasetNotFoundError(not_found_message(spec, dataset, Path(data_path), raw_data_path))
    return spec.convert(dataset, found, Path(data_path) / dataset)


def conversion_summary(dataset: str, folder: Path, stats: dict) -> str:
    """What `ensure_dataset` converted, as the converter CLIs print it (counts, removals, bad records)."""
    from dataset_converters.stats import format_stats

    return f"converted {dataset} into {folder}:\n{format_stats(stats)}"


def ensure_own_dataset(dataset: str, data_path: Path) -> dict | None:
    """A dataset of the user's: its benchmark files as they are, else its plain RecBole `.inter` cut into sessions
    (`dataset_converters.sessions.convert_recbole_inter`), else `DatasetNotFoundError` with the command to run."""
    folder = data_path / dataset
    if all(path.is_file() for path in benchmark_files(dataset, data_path, with_item_file=False)):
        return None
    if (folder / f"{dataset}.inter").is_file():
        from dataset_converters.sessions import convert_recbole_inter

        return convert_recbole_inter(dataset, folder)
    raise DatasetNotFoundError(
        f"dataset '{dataset}' not found: {folder} holds neither {dataset}.train.inter, {dataset}.valid.inter and "
        f"{dataset}.test.inter nor a plain {dataset}.inter (user_id, item_id, timestamp). Convert your sessions with\n"
        f"  python -m dataset_converters.sessions --interactions FILE --session_col C --item_col C --time_col C "
        f"[--items FILE --item_id_col C --text_cols title,...] --output_dir {folder}\n"
        f"  (or set data_path to the folder holding {dataset}/)"
    )


def not_found_message(spec: DatasetSpec, dataset: str, data_path: Path, raw_data_path: Path | None) -> str:
    """What is missing, where to get it, and the exact command that converts it."""
    raw_dir = Path(raw_data_path) if raw_data_path is not None else Path("RAW_DIR")
    required = [raw for raw in spec.raw_files if not raw.optional]
    missing = ", ".join(str(path) for path in benchmark_files(dataset, data_path, spec.writes_item_file)
                        if not path.is_file())
    searched = f"in {raw_data_path} (or {raw_dir / dataset})" if raw_data_path is not None else \
        "because raw_data_path is not set"
    needed = "; ".join(f"{raw.flag}: one of {', '.join(raw.names)}" for raw in required)
    command = " ".join(["python -m", spec.module]
                       + [f"{raw.flag} {shlex.quote(str(raw_dir / raw.names[0]))}" for raw in required]
                       + spec.command_args(dataset) + ["--output_dir", shlex.quote(str(data_path / dataset))])
    return (f"dataset '{dataset}' is not converted (missing {missing}) and its raw files were not found {searched}.\n"
            f"  needed: {needed}\n  download: {spec.download_hint}\n  convert: {command}\n"
            f"  (or set raw_data_path to the folder holding the raw files and the runner converts them itself)")
