"""End to end: the benchmark CLI trains RecBole's GRU4Rec for 1 epoch on tiny ml-100k and writes the report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from recbole_semsr.benchmark.__main__ import main


def benchmark_argv(models: str, seeds: int, output: Path, config: dict) -> list[str]:
    """The benchmark command line for `models` on the tiny ml-100k slice, `config` as `--key=value` overrides."""
    overrides = [f"--{key}={value}" for key, value in config.items()]
    return [f"--models={models}", "--datasets=ml-100k", f"--seeds={seeds}", f"--output={output}", *overrides]


def test_benchmark_cli_on_tiny_ml100k(tiny_run_config: dict, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "bench"
    argv = benchmark_argv("GRU4Rec", 1, output, tiny_run_config)

    assert main(argv) == 0
    stored = json.loads((output / "runs" / "ml-100k" / "GRU4Rec" / "seed2025.json").read_text())
    assert stored["seed"] == 2025 and stored["config"]["seed"] == 2025 and stored["epochs"] == 1
    assert stored["benchmark_command"].startswith("python -m recbole_semsr.benchmark --models=GRU4Rec ")
    assert all(0.0 <= stored["test_result"][f"recall@{k}"] <= 1.0 for k in (20, 50, 100, 200, 300, 400, 500))
    row = next(line for line in (output / "report.md").read_text().splitlines() if line.startswith("| GRU4Rec |"))
    assert row.startswith(f"| GRU4Rec | **{100 * stored['test_result']['recall@20']:.2f}** |")
    assert (output / "recall_at_k_ml-100k.png").is_file()

    assert main(argv) == 0
    assert "0 runs done, 1 already stored, 0 failed" in capsys.readouterr().out


def test_benchmark_cli_runs_baselines_once_and_reranks_with_them(tiny_run_config: dict, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "bench"
    argv = benchmark_argv("NISER,STAN,NISER+STAN", 2, output, tiny_run_config)

    assert main(argv) == 0
    runs = output / "runs" / "ml-100k"
    assert sorted(path.name for path in (runs / "STAN").iterdir()) == ["seed2025.json"]
    plus = json.loads((runs / "NISER+STAN" / "seed2026.json").read_text())
    niser = json.loads((runs / "NISER" / "seed2026.json").read_text())
    assert plus["model"] == "NISER+STAN"
    assert plus["test_result"]["recall@100"] == pytest.approx(niser["test_result"]["recall@100"])
    assert "| STAN |" in (output / "report.md").read_text()
    assert "5 runs done" in capsys.readouterr().out  # NISER x 2, STAN once, NISER+STAN x 2
