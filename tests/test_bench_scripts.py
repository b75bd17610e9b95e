"""Every script under bench/ still imports: a benchmark that the package's refactors broke is found here, not when
someone needs its measurement."""
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(path.stem for path in BENCH.glob("*.py")))
def test_bench_script_imports(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    module = importlib.import_module(script)
    assert callable(getattr(module, "main", None)), f"bench/{script}.py has no main()"
