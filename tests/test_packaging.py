"""The wheel carries every package and every YAML file of `properties/` (CI builds and runs it: .ci/run)."""
from __future__ import annotations

import configparser
from fnmatch import fnmatch
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def test_setup_cfg_lists_every_package_and_maps_properties_into_the_package():
    options = setup_cfg()["options"]
    listed = set(options["packages"].split())
    found = set(find_packages(ROOT, include=["recbole_semsr*", "dataset_converters*"]))
    assert listed == found | {"recbole_semsr.properties"}
    assert options["package_dir"].split() == ["recbole_semsr.properties", "=", "properties"]


def test_every_file_under_properties_ships_with_the_package():
    patterns = [p.strip() for p in setup_cfg()["options.package_data"]["recbole_semsr.properties"].split(",")]
    files = [path.relative_to(ROOT / "properties").as_posix() for path in (ROOT / "properties").rglob("*")
             if path.is_file()]
    assert files and all(any(fnmatch(name, pattern) and name.count("/") == pattern.count("/") for pattern in patterns)
                         for name in files)


def test_console_script_points_at_the_runner():
    from recbole_semsr import cli

    script = setup_cfg()["options.entry_points"]["console_scripts"].strip()
    assert script == "recbole-semsr = recbole_semsr.cli:console_main"
    assert callable(cli.console_main)


OUTSIDE_MARKERS = tuple("../" + name for name in ("shared",)) + ("known" + "-traps", "paper" + "-notes")


def test_no_file_of_the_repository_points_outside_it_for_documentation():
    tracked = [path for pattern in ("*.md", "*.py", "*.cfg", "*.yaml", "*.toml", "*.test")
               for path in ROOT.rglob(pattern) if not {".venv", "build", ".git"} & set(path.relative_to(ROOT).parts)]
    pointing = [str(path.relative_to(ROOT)) for path in tracked
                if any(marker in path.read_text(encoding="utf-8", errors="replace")
                       for marker in OUTSIDE_MARKERS)]
    assert tracked and pointing == []
