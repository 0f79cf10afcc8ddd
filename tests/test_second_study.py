"""A second, small study made by data alone (tests/minstudy.py) is built and reported: its pages, print edition
text and exports speak of that study, never of the Russian one."""

from __future__ import annotations

import re

import pytest
from minstudy import episode, stops, study

from analysis import provenance
from analysis.build import build

RUSSIAN_STUDY_WORDS = (
    "Russia",
    "Russian",
    "Moscow",
    "Syria",
    "Assad",
    "Il-76",
    "RA-78765",
    "Latin America",
    "Caracas, Havana and Managua",
    "2008 to today",
)


def _trip(eid, ac, via, dest="SVMI", day="2021-03-01"):
    route = (
        [("OIIE", "origin", None, day)]
        + [(p, "staging", None, None) for p in via]
        + [(dest, "destination", None, None)]
    )
    return stops(eid, ac, route)


@pytest.fixture(scope="module")
def second_study(tmp_path_factory):
    from analysis.report import report

    root = tmp_path_factory.mktemp("second-study")
    st = _trip("2021-03-ep-aaa-caracas", "EP-AAA", ["DAAG", "GOBD"]) + _trip(
        "2021-06-ep-aaa-havana", "EP-AAA", ["GMMN", "DAAG", "GOBD"], dest="MUHA", day="2021-06-01"
    )
    p = study(
        root, episodes=[episode("2021-03-ep-aaa-caracas"), episode("2021-06-ep-aaa-havana", "CU")], stops=st
    )
    provenance.accept(p.raw)
    build(p, quiet=True)
    report(p, pdf=False)
    return p


def test_pages_speak_of_the_second_study(second_study):
    pages = sorted(second_study.reports.glob("*.html"))
    assert len(pages) >= 5
    for page in pages:
        text = re.sub(
            r"<script.*?</script>|<style.*?</style>", "", page.read_text(encoding="utf-8"), flags=re.S
        )
        # the data dictionary documents the toolkit's columns with examples (an id such as IL76TD): not the study
        words = [
            w for w in RUSSIAN_STUDY_WORDS if page.name != "dictionary.html" or w not in ("Il-76", "RA-78765")
        ]
        for word in words:
            assert word not in text, (page.name, word)
    index = (second_study.reports / "index.html").read_text(encoding="utf-8")
    assert "State cargo flights from Iran to Venezuela (a test study)" in index
    for export in ("routes.geojson", "routes.kml"):
        text = (second_study.reports / "exports" / export).read_text(encoding="utf-8")
        assert not any(w in text for w in ("Russian", "Latin America")), export
