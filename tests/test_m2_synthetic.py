"""The synthetic Amazon-M2 generator (bench/m2_synthetic.py): determinism, the official layout read by the real
converter, the stated distributions, refusals; and tiny runs of bench/m2_scale.py and bench/m2_gpu_epoch.py."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import m2_gpu_epoch  # noqa: E402
import m2_synthetic  # noqa: E402
from dataset_converters.kdd_m2 import PRODUCT_HEADER, M2Options, convert_kdd_m2, parse_prev_items  # noqa: E402
from m2_synthetic import PRODUCTS_FILE, SESSIONS_FILE, Distributions, generate, numpy_list_text  # noqa: E402


def read_sessions(path: Path) -> list[tuple[list[str], str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["prev_items", "next_item", "locale"]
    return [(parse_prev_items(prev_items), target, locale) for prev_items, target, locale in rows[1:]]


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> Path:
    """1,000 sessions over 300 products, seed 0."""
    folder = tmp_path_factory.mktemp("m2") / "raw"
    generate(folder, sessions=1000, products=300, seed=0)
    return folder


def test_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(small_files: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", sessions=1000, products=300, seed=0)
    generate(tmp_path / "other", sessions=1000, products=300, seed=1)
    for name in (SESSIONS_FILE, PRODUCTS_FILE):
        assert (tmp_path / "again" / name).read_bytes() == (small_files / name).read_bytes()
        assert (tmp_path / "other" / name).read_bytes() != (small_files / name).read_bytes()


def test_files_have_the_official_headers_and_numpy_lists(small_files: Path) -> None:
    assert (small_files / PRODUCTS_FILE).read_text(encoding="utf-8").splitlines()[0] == ",".join(PRODUCT_HEADER)
    with open(small_files / SESSIONS_FILE, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    assert len(rows) == 1000 and {locale for _, _, locale in rows} == {"UK"}
    assert all(prev_items == str(np.array(parse_prev_items(prev_items))) for prev_items, _, _ in rows)
    assert any("\n" in prev_items for prev_items, _, _ in rows)  # long prefixes wrap, as in the official file
    with open(small_files / PRODUCTS_FILE, encoding="utf-8", newline="") as handle:
        products = list(csv.DictReader(handle))
    assert len(products) == len({row["id"] for row in products}) == 300
    assert all(len(row["id"]) == 10 and row["id"].startswith("B0") and row["id"].isalnum()
               and row["id"] == row["id"].upper() and float(row["price"]) > 0 and row["title"] for row in products)


def test_numpy_list_text_is_what_numpy_prints() -> None:
    rng = np.random.default_rng(0)
    for count in [*range(1, 40), 250]:
        words = ["".join(rng.choice(list("AB12"), rng.integers(1, 16))) for _ in range(count)]
        assert numpy_list_text(words) == str(np.array(words))


def test_the_converter_reads_every_generated_row(small_files: Path, tmp_path: Path) -> None:
    stats = convert_kdd_m2(small_files / SESSIONS_FILE, small_files / PRODUCTS_FILE, tmp_path / "kdd_m2_uk",
                           M2Options(valid_n=100, test_n=100, recent_n=50))
    sessions = read_sessions(small_files / SESSIONS_FILE)
    used = {item for prefix, target, _ in sessions for item in (*prefix, target)}
    table = stats["table1"]
    assert stats["problems"]["counts"] == {}
    assert (table["#train"], table["#valid"], table["#test"], stats["#recent"]) == (800, 100, 100, 50)
    assert table["#items"] == stats["#items_with_text"] == len(used)
    assert stats["removed"]["sessions of other locales than UK"] == 0
    assert stats["removed"]["sessions referencing unknown items"] == 0


def test_stated_distributions_hold_at_small_scale() -> None:
    lengths, rows = zip(*m2_synthetic.session_chunks(100_000, 10_000, seed=0, dist=Distributions()))
    lengths, counts = np.concatenate(lengths), np.bincount(np.concatenate(rows), minlength=10_000)
    assert lengths.mean() == pytest.approx(4.18, abs=0.1)
    assert np.median(lengths) == 3 and (lengths == 1).mean() == pytest.approx(0.16, abs=0.02)
    assert 1 <= lengths.min() and lengths.max() <= Distributions().max_prefix
    top_share = np.sort(counts)[::-1][:100].sum() / counts.sum()
    assert top_share > 0.2  # the top 1 % of 10,000 products: 20 times their uniform share
    cdf = m2_synthetic.popularity_cdf(10_000, 0.8)
    assert cdf[0] == pytest.approx(1 / (np.arange(1, 10_001) ** -0.8).sum())


def test_existing_files_are_kept_unless_overwrite(small_files: Path, capsys) -> None:
    before = (small_files / SESSIONS_FILE).read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        m2_synthetic.main(["--sessions", "5", "--products", "5", "--output_dir", str(small_files)])
    assert exit_info.value.code == 2 and "pass --overwrite" in capsys.readouterr().err
    assert (small_files / SESSIONS_FILE).read_bytes() == before


@pytest.mark.parametrize("argv, message", [
    (["--sessions", "-3"], "--sessions: must be at least 1"),
    (["--products", "0"], "--products: must be at least 1"),
    (["--sessions", "many"], "expected a whole number"),
    (["--locale", "U K"], "expected a locale"),
])
def test_bad_sizes_are_command_line_errors(argv: list[str], message: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        m2_synthetic.main([*argv, "--output_dir", str(tmp_path)])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_m2_scale_prints_the_table_at_tiny_scale(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(REPO / "bench" / "m2_scale.py"), "--sessions=2000", "--products=1000",
                           "--items=1000", "--d2=32", "--threads=1", f"--output={report}"],
                          cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| step | seconds | peak RSS (MiB) | notes |" in done.stdout
    assert "#train 1,600, #valid 200, #test 200" in done.stdout and "0 bad records" in done.stdout
    assert "full ranking over 1,000 items (CPU)" in done.stdout and "1,001 rows" in done.stdout
    assert report.read_text(encoding="utf-8") == done.stdout


def test_m2_scale_rejects_too_few_items(capsys) -> None:
    import m2_scale

    with pytest.raises(SystemExit):
        m2_scale.main(["--items", "1"])
    assert "--items must be at least 2" in capsys.readouterr().err


def test_gpu_epoch_script_trains_a_few_batches_on_the_cpu(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["--work_dir", str(tmp_path / "work"), "--sessions", "2000", "--products", "1000", "--d2", "16",
            "--limit_batches", "3"]
    assert m2_gpu_epoch.main(argv) == 0
    first = capsys.readouterr().out
    assert "1,600 training samples" in first and "| 3 | 16 |" in first and "(extrapolated)" in first
    assert m2_gpu_epoch.main(argv) == 0  # the second run reuses the dataset and the stored vectors
    assert "reusing" in capsys.readouterr().out
    assert len(list((tmp_path / "work").rglob("*.npy"))) == 1
