"""The one JSON writer (`recbole_semsr.io.write_json`) used by results, stats, reports and the store."""
from __future__ import annotations

import json

import pytest

from recbole_semsr.io import write_json


def test_write_json_creates_folders_and_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b" / "result.json"
    write_json(target, {"title": "Crème", "n": 1})
    assert json.loads(target.read_text(encoding="utf-8")) == {"title": "Crème", "n": 1}
    assert "Crème" in target.read_text(encoding="utf-8")

    def broken_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr("recbole_semsr.io.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_json(target, {"n": 2})
    assert json.loads(target.read_text(encoding="utf-8"))["n"] == 1
    assert [path.name for path in target.parent.iterdir()] == ["result.json"]



def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from recbole_semsr.io import write_json

    old = os.umask(0o022)
    try:
        path = write_json(tmp_path / "result.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
