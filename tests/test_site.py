"""The site's own pages, the data dictionary, figures, tooltips, the linked episode view and start-here.ipynb."""

from __future__ import annotations

import html
import json
import re

import nbformat
import papermill
import polars as pl

from analysis import dictionary, queries, site
from analysis.report import KERNEL_ARGS

SPEC = re.compile(r"<script[^>]*class=\"flights-spec\"[^>]*>(.*?)</script>", re.S)


def _specs(page) -> list[dict]:
    return [json.loads(m) for m in SPEC.findall(page.read_text(encoding="utf-8"))]


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_every_derived_column_has_a_description(built_project):
    tables = site.derived_tables(built_project)
    assert len(tables) >= 20
    missing = dictionary.missing({t: list(cols) for t, cols in tables.items()})
    assert not missing, (
        "describe these with their step in analysis/steps.py (or analysis/schema.py for raw columns): "
        + ", ".join(missing)
    )


def test_an_undocumented_column_is_reported():
    assert dictionary.missing({"core_legs": ["distance_km", "brand_new_col"]}) == ["core_legs.brand_new_col"]
    assert dictionary.missing({"out_new_table": []}) == ["out_new_table"]


def test_index_leads_with_key_findings_linked_to_evidence_and_sources(built_report):
    index = (built_report.reports / "index.html").read_text(encoding="utf-8")
    assert index.index("Key findings") < index.index("<h2>Episodes</h2>")
    keys = re.findall(r'<li class="finding" id="key-([^"]+)">(.*?)</li>', index, re.S)
    findings = queries.findings(project=built_report)
    key = findings.filter(pl.col("is_key"))
    from analysis.findings import KEY_CATEGORIES

    order = {c: i for i, c in enumerate(KEY_CATEGORIES)}
    assert [k for k, _ in keys] == sorted(
        key["finding_id"], key=lambda f: order[key.filter(pl.col("finding_id") == f)["category"][0]]
    )  # in the order of the questions the study asks
    for fid, body in keys:  # each headline beside the small chart made for it, the details one click away
        assert 'class="headline"' in body and "<details>" in body
        assert 'class="flights-spec"' in body, fid
        text = re.sub(r"<details[^>]*>.*?</details>|<script.*?</script>|<[^>]+>", " ", body, flags=re.S)
        assert not re.search(r"\b(seed-\d+|core_\w+|[a-z0-9]+-unidentified-)", text), (fid, text)  # no ids
    headlines = [re.search(r'class="headline">(.*?)</p>', b).group(1) for _, b in keys]
    assert all(index.count(h) == 1 for h in headlines)  # nothing printed twice
    assert key["category"].n_unique() == key.height  # at most one per category
    patterns = (built_report.reports / "patterns.html").read_text(encoding="utf-8")
    methods = (built_report.reports / "methods.html").read_text(encoding="utf-8")
    for fid, body in keys:
        assert f'href="patterns.html#finding-{fid}"' in body
        assert f'id="finding-{fid}"' in patterns  # the evidence link lands on the finding
        for anchor in re.findall(r'href="methods.html#([^"]+)"', body):
            assert f'id="{anchor}"' in methods


def test_methods_page_has_bibliography_conflicts_and_inferences(built_report):
    methods = (built_report.reports / "methods.html").read_text(encoding="utf-8")
    for r in queries.sources(built_report).iter_rows(named=True):
        assert f'id="{site.source_anchor(r["source_id"])}"' in methods
        if r["published_reported"]:
            assert html.escape(r["published_reported"]) in methods
    for cid in queries.conflicts(project=built_report)["conflict_id"].unique():
        assert f'id="conflict-{html.escape(cid)}"' in methods
    inferred = queries.places(built_report).drop_nulls("inferred_icao")
    assert inferred.height > 0
    for r in inferred.iter_rows(named=True):
        assert r["inferred_icao"] in methods and html.escape(r["inference_basis"]) in methods
    assert 'id="inferred-stops"' in methods


def test_dictionary_page_lists_every_table_and_column(built_report):
    page = (built_report.reports / "dictionary.html").read_text(encoding="utf-8")
    for table, cols in site.derived_tables(built_report).items():
        assert f'id="table-{table}"' in page
        for col in cols:
            assert f"<code>{col}</code>" in page


def test_every_chart_has_svg_and_png_figures(built_report):
    pages = sorted(built_report.reports.glob("*.html"))
    charts = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        n = text.count('class="flights-spec"')
        links = re.findall(r'href="figures/([^"]+)\.svg"', text)
        assert len(links) == n, page.name
        for stem in links:
            for ext in ("svg", "png"):
                f = built_report.reports / "figures" / f"{stem}.{ext}"
                assert f.exists() and f.stat().st_size > 1000, f
        charts += n
    assert charts >= 20


def test_every_chart_tooltip_carries_sources(built_report):
    checked = 0
    for page in sorted(built_report.reports.glob("*.html")):
        for spec in _specs(page):
            for node in _walk(spec):
                enc = node.get("encoding") if isinstance(node.get("encoding"), dict) else None
                if enc and "tooltip" in enc:
                    fields = (
                        [t.get("field") for t in enc["tooltip"]]
                        if isinstance(enc["tooltip"], list)
                        else [enc["tooltip"].get("field")]
                    )
                    assert "sources" in fields, (page.name, fields)
                    checked += 1
    assert checked >= 30


def test_episode_view_links_timeline_to_map(built_report):
    specs = _specs(built_report.reports / "episode-2025-10-caracas.html")
    view = next(s for s in specs if "vconcat" in s)
    params = [p for node in _walk(view) for p in node.get("params", []) if isinstance(p, dict)]
    assert any(
        p.get("name") == "milestone" and p.get("select", {}).get("fields") == ["stop_id"] for p in params
    )
    filters = [t for node in _walk(view) for t in node.get("transform", []) if isinstance(t, dict)]
    assert {"filter": {"param": "milestone", "empty": False}} in filters or any(
        t.get("filter", {}).get("param") == "milestone" for t in filters
    )


def test_start_here_notebook_is_clean_and_runs(built_project, tmp_path, monkeypatch):
    path = built_project.notebooks / "start-here.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert all(not c.outputs and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    source = "\n".join(c.source for c in nb.cells)
    for helper in ("queries.sql(", "$min_km", "queries.legs(", "charts.route_map(", "present.table("):
        assert helper in source
    monkeypatch.setenv("FLIGHTS_ROOT", str(built_project.root))
    out = papermill.execute_notebook(
        str(path),
        str(tmp_path / "out.ipynb"),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(path.parent),
        extra_arguments=KERNEL_ARGS,
    )
    outputs = [o for c in out.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # a chart as JupyterLab draws it (Vega 5), then its data table
    assert any("application/vnd.vega.v5+json" in o.get("data", {}) for o in outputs)
    assert any("The data behind this chart" in o.get("data", {}).get("text/html", "") for o in outputs)


def test_every_episode_gets_its_own_colour_and_shape_beyond_fifteen():
    from analysis import charts

    ids = [f"episode-{i:02d}" for i in range(20)]
    colour, shape = charts.episode_scales(ids)
    assert colour.domain == ids and shape.domain == ids
    assert len(set(colour.range)) == 20 and len(set(shape.range)) == 20


def test_prune_removes_scratch_of_killed_runs(tmp_path):
    from analysis.paths import Project
    from analysis.report import prune_scratch

    project = Project(tmp_path)
    (project.build / "nb-dead123" / "x.figures").mkdir(parents=True)
    (project.build / "page-cache").mkdir()
    (project.build / "page-cache" / "abc.html.partial-99-1").write_text("half", encoding="utf-8")
    (project.build / "page-cache" / "abc.html").write_text("whole", encoding="utf-8")
    prune_scratch(project)
    assert not (project.build / "nb-dead123").exists()
    assert [p.name for p in (project.build / "page-cache").iterdir()] == ["abc.html"]
