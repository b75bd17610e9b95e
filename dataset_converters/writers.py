"""Atomic output of a conversion: a staging folder renamed into place, and the `.inter` / `.item` file writers."""
from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from dataset_converters.problems import ConversionError
from dataset_converters.tokens import clean_text
from recbole_semsr.io import INTER_HEADER


def check_output_dir(output_dir: Path, overwrite: bool) -> None:
    """Fail early when ``output_dir`` exists and ``overwrite`` is off."""
    if output_dir.exists() and not overwrite:
        raise ConversionError(f"output folder {output_dir} already exists; pass --overwrite to replace it")


@contextlib.contextmanager
def atomic_output_dir(output_dir: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder beside ``output_dir``; on success it replaces ``output_dir`` by renames.

    On any exception the temporary folder is removed and ``output_dir`` is left as it was.
    """
    check_output_dir(output_dir, overwrite)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.partial-", dir=output_dir.parent))
    staging.chmod(0o755)
    try:
        yield staging
        check_output_dir(output_dir, overwrite)
        if output_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.old-", dir=output_dir.parent))
            os.replace(output_dir, retired / output_dir.name)
            os.replace(staging, output_dir)
            shutil.rmtree(retired)
        else:
            os.replace(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


class _RowFileWriter:
    """An output file opened for writing, counting its data rows; usable as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._handle = open(path, "w", encoding="utf-8", newline="")

    def close(self) -> None:
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class InterFileWriter(_RowFileWriter):
    """Writes a benchmark ``.inter`` file: one sample per row, ``session_id``, the prefix (most recent last), target."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.prefix_items = 0
        self._handle.write("\t".join(INTER_HEADER) + "\n")

    def write(self, session_id: str, prefix: Sequence[str], target: str) -> None:
        """Append one sample; ``prefix`` must be non-empty."""
        self._handle.write(f"{session_id}\t{' '.join(prefix)}\t{target}\n")
        self.rows += 1
        self.prefix_items += len(prefix)


class ItemFileWriter(_RowFileWriter):
    """Writes a tab-separated ``.item`` file; text is made one-line and CSV-quoted only where it holds a ``"``.

    Readers should use the csv module or pandas (tab delimiter, default quoting) as RecBole itself does.
    """

    def __init__(self, path: Path, fields: Sequence[tuple[str, str]]) -> None:
        super().__init__(path)
        self.names = [name for name, _ in fields]
        self._writer = csv.writer(self._handle, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        self._writer.writerow([f"{name}:{kind}" for name, kind in fields])

    def write(self, values: dict[str, object]) -> None:
        """Append one item; missing fields are written empty."""
        self._writer.writerow([clean_text(values.get(name)) for name in self.names])
        self.rows += 1
