"""Running a conversion from a converter's command line: stats or a one-line error, Ctrl-C and SIGTERM alike."""
from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path
from typing import Callable, Iterator

from dataset_converters.problems import ConversionError
from dataset_converters.stats import format_stats


def converter_parser(module: str, description: str | None) -> argparse.ArgumentParser:
    """The parser of `python -m <module>`; its description (the module's docstring) is shown as written."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt as Ctrl-C does, so that the atomic output's clean-up runs
    (no hidden ``.NAME.partial-*`` folder is left behind)."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_cli_conversion(convert: Callable[[], dict], output_dir: Path) -> int:
    """Run a converter for a CLI: print its stats, or the error in one line; returns the exit status (130 when
    interrupted by Ctrl-C or SIGTERM, nothing written)."""
    try:
        with terminate_as_interrupt():
            stats = convert()
    except (ConversionError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: nothing was written to {output_dir}", file=sys.stderr)
        return 130
    print(format_stats(stats))
    print(f"wrote {output_dir} in {stats['seconds']:.1f} s")
    return 0
