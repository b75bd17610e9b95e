"""Where the raw public files come from, and fetching them when a network is available."""
from __future__ import annotations

import urllib.request
from pathlib import Path

from tqdm import tqdm

from dataset_converters.problems import ConversionError

BEAUTY_BASE = "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/"
BEAUTY_URLS = {
    "reviews_Beauty_5.json.gz": BEAUTY_BASE + "reviews_Beauty_5.json.gz",
    "meta_Beauty.json.gz": BEAUTY_BASE + "meta_Beauty.json.gz",
    "ratings_Beauty.csv": BEAUTY_BASE + "ratings_Beauty.csv",
}
BEAUTY_PAGE = "https://jmcauley.ucsd.edu/data/amazon/ (Amazon product data, 2014; per-category files)"
M2_PAGE = "https://www.aicrowd.com/challenges/amazon-kdd-cup-23-multilingual-recommendation-challenge/dataset_files"
M2_FILES = ("sessions_train.csv", "products_train.csv", "sessions_test_task1.csv")
M2_TARGETS = ("https://github.com/HaitaoMao/Amazon-M2 (task1/public_test/DONT_SHARE_gt_test.parquet, "
              "the ground truth of sessions_test_task1.csv)")


def fetch(url: str, target: Path) -> Path:
    """Download ``url`` to ``target`` (via a ``.part`` file, so a broken download leaves nothing behind)."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out, tqdm(
                total=int(response.headers.get("Content-Length") or 0) or None, unit="B", unit_scale=True,
                desc=target.name, disable=None) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))
        partial.replace(target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ConversionError(f"could not download {url}: {error}") from error
    return target


def download_beauty(folder: Path, reviews: Path | None = None, meta: Path | None = None) -> tuple[Path, Path]:
    """Fetch the 5-core reviews and the metadata of Amazon Beauty 2014 into ``folder`` where not given."""
    reviews = reviews or fetch(BEAUTY_URLS["reviews_Beauty_5.json.gz"], folder / "reviews_Beauty_5.json.gz")
    meta = meta or fetch(BEAUTY_URLS["meta_Beauty.json.gz"], folder / "meta_Beauty.json.gz")
    return reviews, meta


def download_kdd_m2(folder: Path) -> None:
    """Amazon-M2 is served only to logged-in AIcrowd users: explain what to fetch by hand, then stop."""
    raise ConversionError(
        f"Amazon-M2 cannot be downloaded without an AIcrowd login. Accept the challenge rules at {M2_PAGE}, "
        f"download {', '.join(M2_FILES)} into {folder}, and (for the paper's test split) the ground truth from "
        f"{M2_TARGETS}.")
