"""Charts in notebook front ends and in standalone files.

- The notebook renderer emits Vega 5 (``application/vnd.vega.v5+json``), the mimetype the locked JupyterLab's
  @jupyterlab/vega5-extension draws (Notebook 7 uses the same extension; VS Code's notebook renderers draw Vega 5
  too), then the chart's description and data table as a second output.
- A browser test starts JupyterLab on 127.0.0.1, runs a notebook in it and finds the drawn chart (an SVG or a canvas
  inside ``.vega-embed``) in the cell's output, with every request that is not to that server refused.
- :func:`analysis.charts.save_html` writes one chart as a standalone HTML file that draws offline.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from analysis import charts, queries

CHROMIUM = Path(os.environ.get("FLIGHTS_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EPISODE = "2025-10-caracas"


def _route_map(project):
    return charts.route_map(
        queries.leg_paths(EPISODE, project=project),
        queries.stops(EPISODE, project=project),
        queries.sources(project),
        title="Routes",
        colour="aircraft_id",
    )


@pytest.fixture(autouse=True)
def _flights_charts():
    """The package's theme and renderer for each test (as a notebook's charts.enable() would), put back after."""
    with charts.enabled():
        yield


def test_importing_the_package_changes_no_library_state_until_asked():
    """A fresh interpreter imports every module of the package: altair keeps its own theme, renderer and row
    limit; charts.enable() then turns the package's on."""
    code = (
        "import importlib, pkgutil, sys\n"
        "sys.modules.setdefault('rfc3987_syntax', None)  # an IRI grammar jsonschema builds, seconds; no chart needs it\n"
        "import altair as alt, analysis\n"
        "before = (alt.theme.active, alt.renderers.active, dict(alt.data_transformers.options))\n"
        "for m in pkgutil.walk_packages(analysis.__path__, 'analysis.'):\n"
        "    if m.name not in ('analysis.__main__',):\n"
        "        importlib.import_module(m.name)\n"
        "after = (alt.theme.active, alt.renderers.active, dict(alt.data_transformers.options))\n"
        "from analysis import charts\n"
        "charts.enable()\n"
        "print(before == after, after, (alt.theme.active, alt.renderers.active, alt.data_transformers.options))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == (
        "True ('default', 'default', {}) ('flights', 'flights', {'max_rows': None})"
    ), run.stdout


def test_the_notebook_bundle_is_vega5_for_jupyterlab_then_the_data_table(built_project):
    chart, table = charts.notebook_bundle(_route_map(built_project))
    assert set(chart) == {
        charts.VEGA_MIME,
        "text/plain",
    }  # no text/html: JupyterLab would prefer it to the chart
    assert charts.VEGA_MIME == "application/vnd.vega.v5+json"
    spec = chart[charts.VEGA_MIME]
    assert spec["$schema"].endswith("/vega/v5.json") and spec["marks"]
    assert "Routes" in chart["text/plain"]
    assert "The data behind this chart" in table["text/html"] and "<table" in table["text/html"]
    # in a plain Python process (no IPython shell) altair's mimebundle is the chart alone
    bundle = _route_map(built_project)._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert charts.VEGA_MIME in data


def _offline_context(browser, allow: tuple[str, ...] = ("file://", "data:", "blob:")):
    refused: list[str] = []
    context = browser.new_context(viewport={"width": 1200, "height": 900})

    def route(r):
        if r.request.url.startswith(allow):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return context, refused


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


NETWORK_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def test_save_html_writes_a_standalone_chart_that_draws_offline(built_project, browser, tmp_path):
    out = charts.save_html(_route_map(built_project), tmp_path / "routes.html")
    text = out.read_text(encoding="utf-8")
    assert not NETWORK_ATTR.search(text)  # nothing to fetch: the library is inside the file
    assert "The data behind this chart" in text
    context, refused = _offline_context(browser)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri(), wait_until="load")
    page.wait_for_function(
        "() => document.querySelectorAll('#chart svg g[class*=\"mark-\"] path').length > 0", timeout=20_000
    )
    context.close()
    assert refused == [] and errors == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NOTEBOOK_CODE = f"""from analysis import charts, queries
charts.enable()
charts.route_map(queries.leg_paths({EPISODE!r}), queries.stops({EPISODE!r}), queries.sources(),
                 title="Routes in JupyterLab", colour="aircraft_id")"""


@pytest.fixture(scope="module")
def jupyterlab(built_project, tmp_path_factory):
    """JupyterLab on 127.0.0.1 (a free port, a token), serving a folder with one notebook, kernels pointed at the
    built test study by FLIGHTS_ROOT; stopped at the end."""
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK_CODE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(root / "chart.ipynb"))
    port, token = _free_port(), "flights-test"
    env = {
        **os.environ,
        "FLIGHTS_ROOT": str(built_project.root),
        "JUPYTER_CONFIG_DIR": str(root / ".config"),
        "JUPYTER_RUNTIME_DIR": str(root / ".runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".ws"),
    }
    log = (root / "lab.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("JupyterLab exited: " + (root / "lab.log").read_text()[-2000:])
                time.sleep(0.3)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# the drawn chart: vega-embed's container holding an SVG with marks, or a canvas
LAB_DRAWN = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output .vega-embed')).filter(
  e => e.querySelector('svg g[class*="mark-"] path, canvas')).length"""


def test_jupyterlab_runs_a_notebook_and_draws_its_chart(jupyterlab, browser, tmp_path):
    url, token = jupyterlab
    context, refused = _offline_context(browser, allow=(url, "data:", "blob:"))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/lab/tree/chart.ipynb?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # wait for the kernel, then run every cell through the app's own command
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
        "window.jupyterapp.shell.currentWidget.sessionContext && "
        "window.jupyterapp.shell.currentWidget.sessionContext.session && "
        "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel && "
        "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
        timeout=60_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(f"() => ({LAB_DRAWN})() > 0", timeout=90_000)
    outputs = page.evaluate(
        "() => Array.from(document.querySelectorAll('.jp-OutputArea-output')).map(o => o.innerText)"
    )
    assert any("The data behind this chart" in t for t in outputs), (
        outputs
    )  # the data table follows the chart
    assert page.locator(".jp-RenderedVegaCommon5").count() >= 1  # drawn by JupyterLab's own Vega 5 renderer
    shot = tmp_path / "jupyterlab.png"
    page.screenshot(path=str(shot), full_page=True)
    if not os.environ.get("CI"):
        from analysis.paths import REPO_DIR

        d = REPO_DIR / ".build" / "screenshots"
        d.mkdir(parents=True, exist_ok=True)
        (d / "jupyterlab.png").write_bytes(shot.read_bytes())
    context.close()
    assert not [u for u in refused if not u.startswith("ws")], refused[:5]  # nothing but the local server
    assert json.dumps(errors).count("vega") == 0, errors
