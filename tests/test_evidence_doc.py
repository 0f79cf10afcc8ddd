"""docs/evidence.md is generated from analysis/schema.py and must match it (the page cannot drift)."""

from __future__ import annotations

from analysis import schema
from analysis.dictionary import evidence_markdown
from analysis.paths import REPO_DIR


def test_evidence_page_matches_the_schema():
    page = (REPO_DIR / "docs" / "evidence.md").read_text(encoding="utf-8")
    assert page == evidence_markdown(), "regenerate it: python -m analysis evidence-doc"


def test_evidence_page_lists_every_column_and_allowed_value():
    page = evidence_markdown()
    for t in schema.TABLES:
        assert f"## {t.name}.csv" in page
        for c in t.columns:
            assert f"| `{c.name}` |" in page
            for v in c.enum:
                assert f"`{v}`" in page


def test_validation_errors_point_to_the_evidence_page(fresh_project):
    import pytest

    from analysis.validate import RawValidationError, load_raw

    path = fresh_project.raw / "episodes.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("2025-10-caracas,", "2025-10-Caracas,", 1), encoding="utf-8"
    )
    with pytest.raises(RawValidationError, match="docs/evidence.md"):
        load_raw(fresh_project.raw)


def test_readme_links_the_evidence_page():
    assert "docs/evidence.md" in (REPO_DIR / "README.md").read_text(encoding="utf-8")
