"""Benchmark runner with a stub trainer: resumable store, failures counted, extra results, CLI report."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from recbole_semsr.benchmark.__main__ import main
from recbole_semsr.benchmark.runner import BENCHMARK_TOPK, run_benchmark, seed_list
from recbole_semsr.benchmark.store import ResultsStore, load_result_files


class StubRun:
    """Records every call; ``fail`` names models that raise."""

    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.fail = fail

    def __call__(self, model: str, dataset: str, config_file_list: list[str] | None = None,
                 config_dict: dict[str, Any] | None = None, evaluate_test: bool = True) -> dict[str, Any]:
        assert evaluate_test
        self.calls.append((model, dataset, dict(config_dict or {})))
        if model in self.fail:
            raise RuntimeError(f"{model} diverged")
        recall = 0.30 + config_dict["seed"] % 10 / 100  # seed 2025 -> 0.35
        return {"model": model, "dataset": dataset, "best_valid_result": {"recall@100": recall},
                "test_result": {"recall@20": recall / 2, "mrr@20": 0.05, "recall@100": recall, "mrr@100": 0.06},
                "seconds_per_epoch": 1.5}


def with_checkpoints(stub: StubRun):
    """`stub` whose records name a checkpoint `<model>-<seed>.pth`, as the "+" variants need."""

    def run(model: str, dataset: str, **kwargs: Any) -> dict[str, Any]:
        return {**stub(model, dataset, **kwargs), "checkpoint": f"{model}-{kwargs['config_dict']['seed']}.pth"}

    return run


def test_seed_list() -> None:
    assert seed_list(3, 2025) == [2025, 2026, 2027]
    with pytest.raises(ValueError, match="at least 1"):
        seed_list(0)


def test_interrupted_benchmark_resumes_where_it_stopped(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    first = StubRun(fail=("SRGNN",))
    summary = run_benchmark(["NISER", "SRGNN"], ["beauty"], [1, 2], store, run_fn=first,
                            config_dict={"epochs": 1}, log=lambda _: None)
    assert (summary.ran, summary.skipped) == (2, 0)
    assert summary.failures == ["beauty SRGNN seed 1: RuntimeError: SRGNN diverged",
                                "beauty SRGNN seed 2: RuntimeError: SRGNN diverged"]
    assert first.calls[0] == ("NISER", "beauty", {"topk": BENCHMARK_TOPK, "metrics": ["Recall", "MRR", "NDCG", "Hit"],
                                                  "epochs": 1, "seed": 1})
    assert json.loads(store.path_for("NISER", "beauty", 2).read_text())["seed"] == 2

    second = StubRun()
    summary = run_benchmark(["NISER", "SRGNN"], ["beauty"], [1, 2], store, run_fn=second, log=lambda _: None)
    assert (summary.ran, summary.skipped, summary.failures) == (2, 2, [])
    assert [(model, config["seed"]) for model, _, config in second.calls] == [("SRGNN", 1), ("SRGNN", 2)]
    assert sorted((r["model"], r["seed"]) for r in store.load().records) == [
        ("NISER", 1), ("NISER", 2), ("SRGNN", 1), ("SRGNN", 2)]
    assert BENCHMARK_TOPK == [20, 50, 100, 200, 300, 400, 500]


def test_plus_variant_reranks_the_stored_runs_of_the_same_seed(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    stub = StubRun()

    summary = run_benchmark(["SemNISER_F+", "NISER", "SemNISER_F", "SemNISER_F+"], ["beauty"], [7], store,
                            run_fn=with_checkpoints(stub), log=lambda _: None)
    assert summary.failures == ["beauty SemNISER_F+ seed 7: ValueError: SemNISER_F+ needs stored runs of SemNISER_F "
                                "and NISER for seed 7: list them before it"]
    model, _, config = stub.calls[-1]
    assert model == "SemNISER_F"
    assert (config["model_file"], config["rerank_with"]) == ("SemNISER_F-7.pth", "NISER-7.pth")
    assert store.has("SemNISER_F+", "beauty", 7)


def test_bad_result_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    good = tmp_path / "llm.json"
    good.write_text(json.dumps({"model": "FS-LLM", "dataset": "beauty", "test_result": {"recall@20": 0.07}}))
    broken = tmp_path / "broken.json"
    broken.write_text("{\n  \"model\": ")
    no_test = tmp_path / "valid_only.json"
    no_test.write_text(json.dumps({"model": "NISER", "dataset": "beauty", "test_result": None}))
    missing = tmp_path / "missing.json"
    loaded = load_result_files([good, broken, no_test, missing])
    assert [record["model"] for record in loaded.records] == ["FS-LLM"]
    assert loaded.skipped[0].startswith(f"{broken}: not valid JSON (line 2")
    assert loaded.skipped[1].startswith(f"{no_test}: test_result is not an object")
    assert loaded.skipped[2].startswith(f"{missing}: cannot read")


def test_cli_report_only_with_extra_llm_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ResultsStore(tmp_path / "bench")
    run_benchmark(["NISER"], ["beauty"], [2025], store, run_fn=StubRun(), log=lambda _: None)
    llm = tmp_path / "llm.json"
    llm.write_text(json.dumps({"model": "FS-LLM", "dataset": "beauty",
                               "test_result": {"recall@20": 0.0707, "mrr@20": 0.019, "recall@100": 0.1448,
                                               "mrr@100": 0.0207}}))
    status = main(["--output", str(tmp_path / "bench"), "--report_only", "--extra_results", str(llm)])
    report = (tmp_path / "bench" / "report.md").read_text()
    assert status == 0
    assert "Report written by: `python -m recbole_semsr.benchmark --output" in report
    assert "- 2 run(s): `(not recorded)` on -" in report
    assert "| NISER | **17.50** | **5.00** | **35.00** | **6.00** | 1.5 |" in report
    assert "| FS-LLM | 7.07 | 1.90 | 14.48 | 2.07 | - |" in report
    assert "NISER left out of the Recall@K plot" in capsys.readouterr().out


def test_named_reranker_and_deterministic_models_run_once(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    stub = StubRun()

    summary = run_benchmark(["NISER", "STAN", "NISER+STAN", "STAN+"], ["beauty"], [7, 8], store,
                            run_fn=with_checkpoints(stub), log=lambda _: None)
    assert summary.failures == []
    runs = [(model, config["seed"], config.get("rerank_with")) for model, _, config in stub.calls]
    assert runs == [("NISER", 7, None), ("NISER", 8, None), ("STAN", 7, None),
                    ("NISER", 7, "STAN-7.pth"), ("NISER", 8, "STAN-7.pth"),
                    ("STAN", 7, "NISER-7.pth"), ("STAN", 8, "NISER-8.pth")]
    assert store.has("NISER+STAN", "beauty", 8) and not store.has("STAN", "beauty", 8)


def test_corrupt_stored_run_is_moved_aside_and_run_again(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    broken = store.path_for("NISER", "beauty", 1)
    broken.parent.mkdir(parents=True)
    broken.write_text('{"model": "NISER", "dataset": "beau')
    messages: list[str] = []
    stub = StubRun()
    summary = run_benchmark(["NISER"], ["beauty"], [1], store, run_fn=stub, log=messages.append)
    assert (summary.ran, summary.skipped) == (1, 0) and len(stub.calls) == 1
    assert json.loads(broken.read_text())["test_result"]["recall@100"] == pytest.approx(0.31)
    assert (broken.parent / "seed1.json.corrupt").read_text() == '{"model": "NISER", "dataset": "beau'
    assert any("not valid JSON" in line and "seed1.json.corrupt" in line and "running it again" in line
               for line in messages)
