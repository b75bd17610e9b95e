"""Print constraints.txt with every direct requirement of the core (setup.cfg's install_requires) and of the test
tools pinned at its lower bound, so that CI's floor step tests exactly the oldest versions that setup.cfg admits
(torch 2.0.0 among them); every other package keeps its locked version.

    python .ci/lowest_constraints.py > /tmp/lowest.txt && pip install . pytest entmax -c /tmp/lowest.txt
"""
from __future__ import annotations

import configparser
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
TEST_TOOLS = ("pytest", "entmax")


def lower_bound(requirement: Requirement) -> str:
    """The version of the requirement's `>=` clause; a requirement without one is an error in setup.cfg."""
    bounds = [spec.version for spec in requirement.specifier if spec.operator == ">="]
    if len(bounds) != 1:
        sys.exit(f"setup.cfg: {requirement} needs exactly one '>=' lower bound")
    return bounds[0]


def direct_requirements() -> list[Requirement]:
    """The core's requirements, then the test tools named in the `test` extra."""
    options = configparser.ConfigParser()
    options.read(ROOT / "setup.cfg")
    core = [Requirement(line) for line in options["options"]["install_requires"].split("\n") if line.strip()]
    test = [Requirement(line) for line in options["options.extras_require"]["test"].split("\n") if line.strip()]
    return core + [requirement for requirement in test if requirement.name in TEST_TOOLS]


def lowest_constraints() -> list[str]:
    """The lock's lines, each direct requirement replaced by `name==lower bound`."""
    floors = {canonicalize_name(req.name): f"{req.name}=={lower_bound(req)}" for req in direct_requirements()}
    lines = []
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        name = line.split("==")[0].strip()
        if line.startswith("#") or not name:
            continue
        lines.append(floors.pop(canonicalize_name(name), line))
    return lines + sorted(floors.values())


if __name__ == "__main__":
    print("\n".join(lowest_constraints()))
