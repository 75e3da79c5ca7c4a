"""The repository stands on its own: its documents link only to files it holds, and the
README's install line is what scripts/install.sh installs."""

from __future__ import annotations

import re

import pytest

from tests.support.paths import REPO

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_links_point_at_files_in_the_repository(document):
    for target in LINK.findall(document.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+://", target):
            continue
        path = (document.parent / target).resolve()
        assert path.is_relative_to(REPO), f"{document.name} links outside the repo: {target}"
        assert path.exists(), f"{document.name} links to a missing file: {target}"


def test_the_readme_install_line_is_what_install_sh_installs():
    script = (REPO / "scripts" / "install.sh").read_text()
    (listed,) = re.findall(r"^packages=\(([^)]*)\)", script, re.MULTILINE)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (line,) = re.findall(r"apt-get install -y --no-install-recommends ([^'\n]+)", readme)
    assert line.split() == listed.split()


def test_the_license_is_the_one_pyproject_names():
    assert "license = { text = \"Apache-2.0\" }" in (REPO / "pyproject.toml").read_text()
    assert (REPO / "LICENSE").read_text().lstrip().startswith("Apache License")
