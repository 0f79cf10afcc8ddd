"""What a reader sees without hovering: names on maps, unlocated stops listed, stable colours, words for ids,
missing values that say why, the package outside the repository, and entering shared stops once."""

from __future__ import annotations

import re

import polars as pl
import pytest

from analysis import charts, present, queries

EPISODE = "2025-10-caracas"  # its origin, Moscow, has no coordinates (several airports, none named)


@pytest.fixture(autouse=True)
def _flights_charts():
    """The package's theme and renderer for each test (as a notebook's charts.enable() would), put back after."""
    with charts.enabled():
        yield


def _marks(spec: dict, kind: str) -> list[dict]:
    out = []

    def walk(node):
        if isinstance(node, dict):
            mark = node.get("mark")
            if (mark if isinstance(mark, str) else (mark or {}).get("type")) == kind:
                out.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return out


def _texts(spec: dict) -> list[str]:
    datasets = spec.get("datasets", {})
    found = []
    for node in _marks(spec, "text"):
        rows = datasets.get((node.get("data") or {}).get("name"), [])
        field = (node.get("encoding", {}).get("text") or {}).get("field")
        found += [r.get(field) for r in rows if field]
    return found


def test_maps_name_their_main_stops_and_list_the_stops_they_cannot_draw(built_project):
    names = queries.names(built_project)
    chart = charts.route_map(
        queries.leg_paths(EPISODE, project=built_project),
        queries.stops(EPISODE, project=built_project),
        title="Routes",
        colour="aircraft_id",
        names=names,
    )
    spec = chart.to_dict()
    texts = _texts(spec)
    assert (
        "Caracas" in texts and "Havana" in texts and "Managua" in texts
    )  # origin/destination and main stops
    listed = " ".join(t for t in texts if t)
    assert "Not on the map" in listed and "Moscow" in listed and "no airport" in listed  # with the reason
    assert "Moscow" in spec["description"]
    # the same in the figure files (SVG, and the PNG and the PDF made from it)
    import vl_convert

    svg = vl_convert.vegalite_to_svg(spec)
    for word in ("Caracas", "Havana", "Moscow", "Not on the map"):
        assert word in svg, word


def test_place_labels_never_overlap(built_project):
    stops = queries.stops(project=built_project)
    located = stops.filter(pl.col("lat").is_not_null())
    corners = [
        (x, y)
        for x in (located["lon"].min() - 8, located["lon"].max() + 8)
        for y in (located["lat"].min() - 8, located["lat"].max() + 8)
    ]
    px = charts._fitted(corners, charts.WIDTH, charts.MAP_HEIGHT)
    labels = charts.place_labels(located, px, limit=60)
    assert labels.height >= 10
    boxes = []
    for r in labels.iter_rows(named=True):
        x, y = px(r["lon"], r["lat"])
        w, h = 0.58 * 11 * len(r["place_name"]) + 2, 13
        align, base, dx, dy = charts._PLACES[r["placement"]]
        left = x + dx if align == "left" else x + dx - w if align == "right" else x - w / 2
        top = y + dy - h / 2 if base == "middle" else y + dy - h if base == "bottom" else y + dy
        boxes.append((left, top, left + w, top + h))
    for i, a in enumerate(boxes):
        assert 0 <= a[0] and a[2] <= charts.WIDTH and 0 <= a[1] and a[3] <= charts.MAP_HEIGHT
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_an_episode_keeps_its_colour_and_shape_when_others_are_added():
    ids = [f"20{y:02d}-0{m}-episode" for y in range(10, 25) for m in (1, 5)]
    c1, s1 = charts.episode_scales(ids[:12])
    c2, s2 = charts.episode_scales(ids)  # 18 more, later in time
    c3, s3 = charts.episode_scales(ids[:12] + ["2026-02-brand-new"])
    for i, e in enumerate(ids[:12]):
        assert c1.range[i] == c2.range[i] == c3.range[i], e
        assert s1.range[i] == s2.range[i] == s3.range[i], e
    # alone, an episode has the colour of its id's hash, whatever list it was in
    alone = charts.episode_scales(["2019-03-caracas"])[0].range[0]
    assert alone == charts.EPISODE_COLOURS[charts._id_hash("2019-03-caracas") % len(charts.EPISODE_COLOURS)]
    pairs = set(zip(c2.range, s2.range, strict=True))
    assert len(pairs) == len(ids)  # colour and shape together tell every episode apart


def test_aircraft_on_the_same_route_are_both_visible_and_legends_are_words(built_project):
    ep = "2019-03-caracas"  # an Il-62M and an An-124 flew the same stops
    names = queries.names(built_project)
    spec = charts.route_map(
        queries.leg_paths(ep, project=built_project),
        queries.stops(ep, project=built_project),
        colour="aircraft_id",
        names=names,
    ).to_dict()
    lines = [m for m in _marks(spec, "line") if m.get("transform")]
    widths = sorted({m["mark"]["strokeWidth"] for m in lines})
    assert len(lines) == 2 and len(widths) == 2 and widths[1] - widths[0] >= 3  # one band inside the other
    all_routes = charts.route_map(
        queries.leg_paths(project=built_project),
        queries.stops(project=built_project),
        colour="episode_id",
        episodes=queries.episode_ids(built_project),
        names=names,
    ).to_dict()
    domains = [
        e["color"]["scale"]["domain"]
        for m in _marks(all_routes, "line")
        if "scale" in (e := m["encoding"]).get("color", {})
    ]
    assert domains and all(not re.fullmatch(r"[0-9a-z-]+", d) for d in domains[0])  # names, not slugs
    assert names[ep] in domains[0]
    assert "registration unknown" in names["il76-emercom-2008-09-a"]


def test_missing_values_say_why():
    assert present.why_missing("arr_reported", {"role": "origin"})[0] == present.NOT_APPLICABLE
    assert present.why_missing("dep_reported", {"role": "home"})[0] == present.NOT_APPLICABLE
    assert present.why_missing("distance_km", {})[0] == present.NOT_COMPUTED
    assert (
        present.why_missing("similarity", {"is_comparable": False, "reason": "no staging"})[0]
        == present.NOT_APPLICABLE
    )
    assert present.why_missing("arr_reported", {"role": "staging"})[0] == present.NOT_REPORTED
    words = {
        present.missing(c, r)
        for c, r in (
            ("arr_reported", {"role": "origin"}),
            ("distance_km", {}),
            ("arr_reported", {"role": "staging"}),
        )
    }
    assert len(words) == 3 and any("not computed (an end of the leg has no coordinates)" in w for w in words)
    table = present.table(
        pl.DataFrame(
            {"role": ["origin", "staging"], "arr_reported": [None, None], "distance_km": [None, 10.0]}
        ),
        ["role", "arr_reported", "distance_km"],
    ).data
    assert "not applicable" in table and "not reported" in table and "not computed" in table


def test_the_comparison_lists_comparable_pairs_and_sums_up_the_rest(built_project):
    sim = queries.route_similarity(project=built_project)
    line = present.not_compared(sim).data
    rest = sim.filter(~pl.col("is_comparable")).height
    assert f"{rest} of {sim.height} pairs are not compared" in line and "no staging stop reported" in line


def test_outside_the_repository(tmp_path, monkeypatch, built_project):
    import analysis
    from analysis.paths import StudyNotFoundError

    assert analysis.Project is not None and "Project" in analysis.__all__
    assert analysis.Project(str(built_project.root)) == analysis.Project(built_project.root)
    assert queries.episode_ids(project=str(built_project.root)) == queries.episode_ids(built_project)
    monkeypatch.setenv("FLIGHTS_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(StudyNotFoundError) as err:
        queries.episodes()
    assert (
        "FLIGHTS_ROOT" in str(err.value)
        and "project=" in str(err.value)
        and "site-packages" not in str(err.value)
    )
    from importlib.resources import files

    assert files("analysis").joinpath("py.typed").is_file()


def test_stops_template_enters_shared_stops_once():
    from analysis import entry

    rows = entry.shared_stops(
        "2026-11-managua",
        ["RA-11111", "RA-22222"],
        ["UUEE:origin::2026-11-03", "GOBD:staging", "MNMG:destination:2026-11-05"],
        "S900",
    )
    assert [r["stop_id"] for r in rows[:3]] == [f"2026-11-managua.RA-11111.main.0{i}" for i in (1, 2, 3)]
    assert len(rows) == 6 and {r["aircraft_id"] for r in rows[3:]} == {"RA-22222"}
    assert rows[0]["dep_time"] == "2026-11-03" and rows[2]["arr_time"] == "2026-11-05"
    text = entry.stops_csv(rows)
    from pathlib import Path

    header = (
        (Path(__file__).resolve().parents[1] / "data" / "raw" / "stops.csv")
        .read_text(encoding="utf-8")
        .splitlines()[0]
    )
    assert text.splitlines()[0] == header  # the columns of the file it is appended to
