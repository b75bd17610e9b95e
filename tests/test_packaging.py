"""The wheel carries every package and every YAML file of `properties/` (CI builds and runs it: .ci/run); the lock
(constraints.txt) lies inside setup.cfg's ranges, and CI's lower-bound set is those ranges' lower ends."""
from __future__ import annotations

import configparser
import sys
from fnmatch import fnmatch
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
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


def locked_versions() -> dict[str, str]:
    """constraints.txt as {canonical name: version}."""
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("==") for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(name): version for name, version in pairs}


def direct_requirements() -> list[Requirement]:
    """install_requires and every extra's requirements, without the package's own extras."""
    config = setup_cfg()
    lines = config["options"]["install_requires"].splitlines()
    lines += [line for extra in config["options.extras_require"].values() for line in extra.splitlines()]
    return [Requirement(line) for line in lines if line.strip() and not line.strip().startswith("recbole-semsr")]


def test_the_lock_pins_every_direct_requirement_inside_its_range():
    locked = locked_versions()
    outside = [f"{req} (locked {locked.get(canonicalize_name(req.name))})" for req in direct_requirements()
               if locked.get(canonicalize_name(req.name)) is None
               or not req.specifier.contains(locked[canonicalize_name(req.name)])]
    assert outside == []
    assert locked["torch"] == "2.13.0" and locked["recbole"] == "1.2.1" and locked["ray"] == "2.6.3"


def test_the_lower_bound_set_pins_each_core_requirement_at_its_lower_bound_and_keeps_the_rest_locked():
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        import lowest_constraints
    finally:
        sys.path.remove(str(ROOT / ".ci"))
    lowest = dict(line.split("==") for line in lowest_constraints.lowest_constraints())
    lowest = {canonicalize_name(name): version for name, version in lowest.items()}
    assert (lowest["torch"], lowest["setuptools"], lowest["pandas"], lowest["transformers"]) == (
        "2.0", "71.1.0", "2.0.3", "4.41.0")
    assert lowest["ray"] == "2.6.3" and lowest["pytest"] == "8.0"
    locked = locked_versions()
    assert lowest.keys() == locked.keys()
    assert lowest["accelerate"] == locked["accelerate"] and lowest["chromadb"] == locked["chromadb"]
