"""Tiny runs of bench/recommend_latency.py and bench/serve_load.py on the ml-100k slice checkpoints."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bench(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def table_rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| ---") and not line.startswith("| model")
            and not line.startswith("| requests")]


def test_latency_bench_times_each_model_beside_the_top_k_baseline_at_each_thread_count(recommend_checkpoints,
                                                                                       tmp_path):
    output = tmp_path / "latency.md"
    printed = bench("recommend_latency.py", "--checkpoints", recommend_checkpoints["VSTAN"], "--threads", "1", "2",
                    "--single=8", "--warmup=2", "--batch=10", "--batches=2", f"--output={output}")
    rows = table_rows(printed)
    assert [(row[0], row[3]) for row in rows] == [("VSTAN", "1"), ("top-k only (baseline)", "1"), ("VSTAN", "2"),
                                                  ("top-k only (baseline)", "2")]
    assert all(row[1] == "ml-100k" and float(row[4]) <= float(row[5]) and float(row[6].replace(",", "")) > 0
               for row in rows)
    assert output.read_text() == printed.rstrip("\n") + "\n"


def test_load_test_stops_by_itself_and_counts_malformed_requests_as_rejected(recommend_checkpoints):
    printed = bench("serve_load.py", f"--checkpoint={recommend_checkpoints['VSTAN']}", "--clients=2",
                    "--seconds=3", "--bad_every=5", "--warmup=2", "--sample_every=0.5", "--threads=1")
    [row] = table_rows(printed)
    requests, rejected, errors = int(row[0].replace(",", "")), int(row[4]), int(row[5])
    assert requests > 10 and errors == 0
    assert rejected >= (requests + rejected) // 5 - 2
