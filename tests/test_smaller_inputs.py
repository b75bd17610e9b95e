"""Issue 25, case 13: a byte-order mark in `.itememb` / `.item`, `benchmark --seeds=0`, an unknown benchmark model."""
import codecs

import pytest

import recbole_semsr.quick_start
from recbole_semsr.benchmark.__main__ import main as benchmark_main
from recbole_semsr.embeddings.item_file import read_item_file
from recbole_semsr.embeddings.store import read_itememb


def test_an_itememb_file_with_a_utf8_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "vectors.itememb"
    path.write_bytes(codecs.BOM_UTF8 + "item_id:token\titem_emb:float_seq\na\t1 2\nb\t3 4\n".encode("utf-8"))
    stored = read_itememb(path)
    assert stored.item_ids == ["a", "b"] and stored.vectors.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_an_item_file_with_a_utf8_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "toy.item"
    path.write_bytes(codecs.BOM_UTF8 + "item_id:token\ttitle:token\na\tLipstick\n".encode("utf-8"))
    assert read_item_file(path).values == {"a": {"title": "Lipstick"}}


@pytest.mark.parametrize("seeds, expected", [("0", "must be at least 1, got 0"), ("x", "expected a whole number")])
def test_benchmark_seeds_below_one_is_a_one_line_usage_error(tmp_path, capsys, seeds, expected):
    with pytest.raises(SystemExit) as stopped:
        benchmark_main(["--models=NISER", "--datasets=ml-100k", f"--seeds={seeds}", f"--output={tmp_path}"])
    assert stopped.value.code == 2
    assert f"argument --seeds: {expected}" in capsys.readouterr().err


@pytest.mark.parametrize("models, unknown", [("NISER,NISR", "NISR"), ("NISER,SemNISER_F+STAM", "STAM")])
def test_an_unknown_benchmark_model_is_refused_before_any_run(tiny_run_config, tmp_path, monkeypatch, models,
                                                              unknown):
    monkeypatch.setattr(recbole_semsr.quick_start, "run", lambda *a, **k: pytest.fail("a run was started"))
    with pytest.raises(SystemExit, match=rf"^error: unknown model '{unknown}' \(closest: "):
        benchmark_main([f"--models={models}", "--datasets=ml-100k", f"--output={tmp_path / 'bench'}",
                        f"--data_path={tiny_run_config['data_path']}"])
