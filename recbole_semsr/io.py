"""Files the package writes: JSON written atomically, and the header of RecBole's benchmark `.inter` files."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable

INTER_HEADER = ("session_id:token", "item_id_list:token_seq", "item_id:token")
"""Columns of a benchmark `.inter` file: the session, its prefix (most recent last), the target."""


def write_json(path: Path | str, data: object, sort_keys: bool = False, default: Callable | None = None) -> Path:
    """The one JSON writer of the package: indented UTF-8, parent folders created, written atomically (a temporary
    file beside the target, then a rename), so an interrupted run never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=sort_keys, ensure_ascii=False, default=default) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def current_umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
