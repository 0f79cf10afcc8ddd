"""The release files agree: the version in pyproject.toml is the one CITATION.cff cites and CHANGELOG.md describes."""

from __future__ import annotations

import re
import tomllib

from analysis.paths import REPO_DIR


def test_citation_and_changelog_name_the_package_version() -> None:
    version = tomllib.loads((REPO_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    citation = (REPO_DIR / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(rf'^version: "{re.escape(version)}"$', citation, re.M), (
        "CITATION.cff cites another version"
    )
    changelog = (REPO_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = re.search(r"^## (\d+\.\d+\.\d+) ", changelog, re.M)
    assert newest and newest.group(1) == version, f"the newest CHANGELOG.md entry is not {version}"


def test_licences_are_in_the_repository() -> None:
    assert "MIT License" in (REPO_DIR / "LICENSE").read_text(encoding="utf-8")
    data = (REPO_DIR / "DATA-LICENSE.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in data and "Natural Earth" in data
