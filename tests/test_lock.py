"""The lock file a device installs from agrees with what pyproject.toml asks for."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import REPO


def locked() -> dict[str, str]:
    text = (REPO / "requirements.lock").read_text()
    return {canonicalize_name(name): version
            for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", text, re.M)}


def test_every_runtime_dependency_is_pinned_within_its_range_with_hashes():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in
              project["dependencies"] + project["optional-dependencies"]["gpio"]]
    pins = locked()
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name]), (name, pins[name])


def test_every_pin_carries_hashes():
    text = (REPO / "requirements.lock").read_text()
    hashed = re.findall(r"^([A-Za-z0-9_.-]+)==\S+ \\\n    --hash=sha256:[0-9a-f]{64}", text, re.M)
    assert {canonicalize_name(name) for name in hashed} == set(locked())
