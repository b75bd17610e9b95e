"""Make sure a converted dataset exists before RecBole reads it (called by the runner).

`ensure_dataset` is a no-op when the benchmark files exist; converts when the raw files are found in
`raw_data_path`; otherwise raises `DatasetNotFoundError` naming the files, where to download them, and the command.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from dataset_converters.download import BEAUTY_PAGE, BEAUTY_URLS, M2_PAGE, M2_TARGETS

SPLITS = ("train", "valid", "test")
EMBEDDED_DATASET = "ml-100k"  # cut into sessions from the copy inside the recbole wheel (dataset_converters/ml100k.py)
_M2_NAME = re.compile(r"^kdd_m2_([a-z]{2})$")


class DatasetNotFoundError(FileNotFoundError):
    """Neither the converted files nor the raw files of a dataset were found."""


@dataclass(frozen=True)
class RawFile:
    """One raw input: the converter flag it feeds, accepted file names (first found wins), and whether optional."""

    flag: str
    names: tuple[str, ...]
    optional: bool = False


BEAUTY_RAW = (
    RawFile("--reviews", ("reviews_Beauty_5.json.gz", "reviews_Beauty_5.json", "reviews_Beauty_5*.json*",
                          "reviews_Beauty.json.gz", "reviews_Beauty.json", "ratings_Beauty.csv")),
    RawFile("--meta", ("meta_Beauty.json.gz", "meta_Beauty.json", "meta_Beauty*.json*")),
)
M2_RAW = (
    RawFile("--sessions", ("sessions_train.csv", "sessions_train.csv.gz")),
    RawFile("--products", ("products_train.csv", "products_train.csv.gz")),
    RawFile("--test_sessions", ("sessions_test_task1.csv", "sessions_test_task1.csv.gz"), optional=True),
    RawFile("--test_targets", ("DONT_SHARE_gt_test.parquet", "gt_test_task1.parquet"), optional=True),
)


def is_converted_dataset(dataset: str) -> bool:
    """True for the datasets this package converts (``ml-100k`` sessions, ``beauty``, ``kdd_m2_<locale>``)."""
    return dataset in (EMBEDDED_DATASET, "beauty") or bool(_M2_NAME.match(dataset))


def benchmark_files(dataset: str, data_path: Path) -> list[Path]:
    """The files RecBole's ``benchmark_filename`` reads, plus the item text file."""
    folder = Path(data_path) / dataset
    return [folder / f"{dataset}.{split}.inter" for split in SPLITS] + [folder / f"{dataset}.item"]


def find_raw_file(folders: list[Path], raw: RawFile) -> Path | None:
    """The first existing file among ``raw.names`` (exact names before patterns) in ``folders``."""
    for folder in folders:
        for name in raw.names:
            matches = sorted(folder.glob(name)) if any(c in name for c in "*?[") else [folder / name]
            found = [path for path in matches if path.is_file()]
            if found:
                return found[0]
    return None


def ensure_dataset(dataset: str, data_path: Path, raw_data_path: Path | None) -> None:
    """Convert ``dataset`` into ``data_path/<dataset>`` from ``raw_data_path`` unless its files already exist."""
    if not is_converted_dataset(dataset) or all(path.is_file() for path in benchmark_files(dataset, data_path)):
        return
    if dataset == EMBEDDED_DATASET:
        from dataset_converters.ml100k import convert

        convert(Path(data_path) / dataset)
        return
    inputs = BEAUTY_RAW if dataset == "beauty" else M2_RAW
    folders = [] if raw_data_path is None else [Path(raw_data_path), Path(raw_data_path) / dataset]
    found = {raw.flag: find_raw_file(folders, raw) for raw in inputs}
    if any(found[raw.flag] is None for raw in inputs if not raw.optional):
        raise DatasetNotFoundError(not_found_message(dataset, Path(data_path), raw_data_path))
    if (found.get("--test_sessions") is None) != (found.get("--test_targets") is None):
        found["--test_sessions"] = found["--test_targets"] = None
    output_dir = Path(data_path) / dataset
    if dataset == "beauty":
        from dataset_converters.beauty import convert_beauty

        convert_beauty(found["--reviews"], found["--meta"], output_dir, name=dataset)
    else:
        from dataset_converters.kdd_m2 import M2Options, convert_kdd_m2

        convert_kdd_m2(found["--sessions"], found["--products"], output_dir, M2Options(locale=_locale(dataset)),
                       name=dataset, test_sessions=found["--test_sessions"], test_targets=found["--test_targets"])


def not_found_message(dataset: str, data_path: Path, raw_data_path: Path | None) -> str:
    """What is missing, where to get it, and the exact command that converts it."""
    inputs = BEAUTY_RAW if dataset == "beauty" else M2_RAW
    raw_dir = Path(raw_data_path) if raw_data_path is not None else Path("RAW_DIR")
    missing = ", ".join(str(path) for path in benchmark_files(dataset, data_path) if not path.is_file())
    searched = f"in {raw_data_path} (or {raw_dir / dataset})" if raw_data_path is not None else \
        "because raw_data_path is not set"
    needed = "; ".join(f"{raw.flag}: one of {', '.join(raw.names)}" for raw in inputs if not raw.optional)
    if dataset == "beauty":
        where = f"{BEAUTY_PAGE}: " + ", ".join(BEAUTY_URLS[name] for name in ("reviews_Beauty_5.json.gz",
                                                                             "meta_Beauty.json.gz"))
        where += " (or add --download RAW_DIR to the command below)"
        command = (f"python -m dataset_converters.beauty --reviews {shlex.quote(str(raw_dir / BEAUTY_RAW[0].names[0]))}"
                   f" --meta {shlex.quote(str(raw_dir / BEAUTY_RAW[1].names[0]))}")
    else:
        where = (f"{M2_PAGE} (AIcrowd login; sessions_train.csv, products_train.csv, and for the paper's test split "
                 f"sessions_test_task1.csv with its ground truth from {M2_TARGETS})")
        command = (f"python -m dataset_converters.kdd_m2 --sessions {shlex.quote(str(raw_dir / 'sessions_train.csv'))}"
                   f" --products {shlex.quote(str(raw_dir / 'products_train.csv'))} --locale {_locale(dataset)}")
    command += f" --output_dir {shlex.quote(str(data_path / dataset))}"
    return (f"dataset '{dataset}' is not converted (missing {missing}) and its raw files were not found {searched}.\n"
            f"  needed: {needed}\n  download: {where}\n  convert: {command}\n"
            f"  (or set raw_data_path to the folder holding the raw files and the runner converts them itself)")


def _locale(dataset: str) -> str:
    match = _M2_NAME.match(dataset)
    if match is None:
        raise ValueError(f"not an Amazon-M2 dataset name: {dataset}")
    return match.group(1).upper()
