"""Builds killed with SIGKILL at random moments leave the previous outputs intact and the next build correct.

Three kinds of kill points, each in a subprocess against a private project (``FLIGHTS_ROOT``):

* ``python -m analysis build --force``, killed at seeded random delays spread over a whole build;
* the report pipeline (``analysis.report.report``) with the notebook runs stubbed out, so that the kills land
  in page assembly and publishing (a real report takes minutes; its notebooks write only to a scratch folder);
* a loop of :func:`analysis.atomic.publish` calls, killed mid-swap.

After every kill, ``data/derived/current`` (and ``reports``) must point at a complete output. The tally is
printed in pytest's terminal summary ("kill test: N kill points, 0 corrupt outputs").
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl

from analysis import provenance
from analysis.paths import REPO_DIR, Project

SEED = 20261121
#: kills per kind in `make test`; `make soak` multiplies them (FLIGHTS_KILL_ROUNDS=4). The delays are stratified
#: (one random moment in each equal slice of the run), so a few kills still cover the whole run, start to end.
ROUNDS = max(1, int(os.environ.get("FLIGHTS_KILL_ROUNDS", "1")))
BUILD_KILLS = 5 * ROUNDS
REPORT_KILLS = 2 * ROUNDS
PUBLISH_KILLS = 4 * ROUNDS


def _slices(rng: random.Random, n: int, lo: float, hi: float) -> list[float]:
    """``n`` fractions of a run, one drawn uniformly in each of ``n`` equal slices of [lo, hi], in random order."""
    fracs = [lo + (hi - lo) * (i + rng.random()) / n for i in range(n)]
    rng.shuffle(fracs)
    return fracs


def copy_study(dest: Path) -> Project:
    from studykit import copy_study as report_copy

    return report_copy(dest)  # the report episodes of the study: a kill test runs many reports


def _env(project: Project) -> dict[str, str]:
    env = dict(os.environ)
    env["FLIGHTS_ROOT"] = str(project.root)
    return env


def _start(args: list[str], project: Project) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO_DIR,
        env=_env(project),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL ``proc`` after ``delay`` seconds; True if it was still running (a real kill point)."""
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return True
    return False


def _kill_run(start, delay: float, tries: int = 3) -> bool:
    """Start a run (``start()``) and kill it after ``delay`` s; when it finished first (the machine ran faster
    than the reference run), start it again with a shorter delay, up to ``tries`` runs. So the number of real
    kill points depends on the count asked for, not on the machine's load. True if a kill landed."""
    for _ in range(tries):
        if _kill_after(start(), delay):
            return True
        delay *= 0.6
    return False


def check_derived(project: Project) -> list[str]:
    """Problems with the published derived data (empty list: complete and readable)."""
    link = project.current
    if not link.is_symlink():
        return [f"{link} is not a symlink"]
    folder = link.resolve()
    if not folder.is_dir() or folder.name.endswith(".partial"):
        return [f"{link} points at {folder}, not a complete build"]
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return [f"manifest unreadable: {exc}"]
    problems = []
    if (
        manifest.get("build_id") != folder.name.split(".")[0]
    ):  # <build_id>, or <build_id>.2 for a forced rebuild
        problems.append(f"manifest build_id {manifest.get('build_id')} != folder {folder.name}")
    if len(str(manifest.get("fingerprint", ""))) != 64:
        problems.append("manifest has no fingerprint")
    if manifest.get("raw_sha256") != provenance.verify(project.raw):
        problems.append("manifest raw checksums do not match data/raw")
    rows = manifest.get("rows", {})
    if len(rows) < 15:
        problems.append(f"manifest lists only {len(rows)} tables")
    for name, n in rows.items():
        try:
            height = pl.read_parquet(folder / f"{name}.parquet").height
        except Exception as exc:  # noqa: BLE001 - any failure to read is corruption
            problems.append(f"{name}.parquet unreadable: {exc}")
            continue
        if height != n:
            problems.append(f"{name}.parquet has {height} rows, manifest says {n}")
    try:
        con = duckdb.connect(str(folder / "flights.duckdb"), read_only=True)
        try:
            con.execute("SET file_search_path = ?", [folder.as_posix()])
            got = con.execute("SELECT count(*) FROM core_legs").fetchone()[0]
        finally:
            con.close()
        if got != rows.get("core_legs"):
            problems.append(f"flights.duckdb core_legs has {got} rows, manifest says {rows.get('core_legs')}")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"flights.duckdb does not open: {exc}")
    return problems


def check_report(project: Project) -> list[str]:
    link = project.reports
    if not link.is_symlink():
        return [f"{link} is not a symlink"]
    folder = link.resolve()
    try:
        site = json.loads((folder / "site.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return [f"site.json unreadable in {folder}: {exc}"]
    problems = []
    for page in [*site["pages"], "index.html"]:
        try:
            text = (folder / page).read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(f"{page}: {exc}")
            continue
        if not text.rstrip().endswith("</html>"):
            problems.append(f"{page} is cut short")
    if len(site["pages"]) < 5:
        problems.append(f"site lists only {len(site['pages'])} pages")
    return problems


def _tables(project: Project) -> dict[str, pl.DataFrame]:
    folder = project.current.resolve()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return {name: pl.read_parquet(folder / f"{name}.parquet") for name in manifest["rows"]}


STUB_REPORT = textwrap.dedent("""
    import sys
    from pathlib import Path
    import analysis.report as r
    from analysis import console
    from analysis.paths import Project
    # notebooks stubbed: each page body names its job, so assembly and publishing are what runs (no kernel is
    # started, no PDF printed); a renamed page runner fails here instead of running every notebook for real
    # (the figure renderers are spawned processes that import this file again: only the main process reports)
    if __name__ == "__main__":
        assert callable(r.run_page), "analysis.report.run_page is the page runner this stub replaces"
        r.run_page = lambda job, *args, **kwargs: (f"<h1>{job.page}</h1><p>{sorted(job.parameters.items())}</p>", [])
        console.install()  # its progress lines on stdout, as `python -m analysis report` shows them
        r.report(Project(Path(sys.argv[1])), force=True, pdf=False)
""")

PUBLISH_LOOP = textwrap.dedent("""
    import sys
    from pathlib import Path
    from analysis import atomic
    root = Path(sys.argv[1])
    builds, link = root / "pub" / "builds", root / "pub" / "current"
    for i in range(100000):
        with atomic.exclusive(root / "pub" / "lock"):
            part = atomic.new_build_dir(builds)
            for k in range(20):
                (part / f"f{k}.txt").write_text("x" * 1000 + "\\n" + "END")
            (part / "done").write_text(str(i))
            atomic.publish(part, link)
            atomic.prune(builds, link)
""")


def _check_publish_dir(root: Path) -> list[str]:
    link = root / "pub" / "current"
    if not link.is_symlink():
        return ["pub/current is not a symlink"]
    folder = link.resolve()
    if not (folder / "done").exists() or folder.name.endswith(".partial"):
        return [f"pub/current -> {folder.name} is incomplete"]
    bad = [f.name for f in folder.glob("f*.txt") if not f.read_text().endswith("END")]
    return [f"cut files {bad}"] if bad or len(list(folder.glob("f*.txt"))) != 20 else []


def test_kill_at_random_points(tmp_path: Path, request) -> None:
    t0 = time.monotonic()
    rng = random.Random(SEED)
    project = copy_study(tmp_path / "study")
    corrupt: list[str] = []
    points = mid_write = 0

    # a clean first build, timed, is the reference
    s = time.monotonic()
    first = subprocess.run(
        [sys.executable, "-m", "analysis", "build"],
        cwd=REPO_DIR,
        env=_env(project),
        capture_output=True,
        text=True,
    )
    duration = time.monotonic() - s
    assert first.returncode == 0, first.stderr
    assert check_derived(project) == []
    clean = _tables(project)

    # 1. the data build, killed at points spread across its whole run (start-up is most of it: bias later)
    # (the first 40% of a build is mostly interpreter and library start-up: the slices start there)
    for i, frac in enumerate(_slices(rng, BUILD_KILLS, 0.4, 1.1)):
        points += _kill_run(lambda: _start(["-m", "analysis", "build", "--force"], project), frac * duration)
        mid_write += bool(list((project.derived / "builds").glob("*.partial")))
        if problems := check_derived(project):
            corrupt.append(f"build kill {i} at {frac:.2f}: {problems}")

    # the next build is correct and equals the clean one
    final = subprocess.run(
        [sys.executable, "-m", "analysis", "build", "--force"],
        cwd=REPO_DIR,
        env=_env(project),
        capture_output=True,
        text=True,
    )
    assert final.returncode == 0, final.stderr
    assert check_derived(project) == []
    after = _tables(project)
    assert sorted(after) == sorted(clean)
    for name, df in clean.items():
        assert after[name].equals(df), f"{name} differs from a clean build after the kills"
    builds = project.derived / "builds"
    assert not list(builds.glob("*.partial")), "the next build left partial folders behind"
    assert len([p for p in builds.iterdir() if p.is_dir()]) <= 3, "old builds were not pruned"

    # 2. the report pipeline (notebooks stubbed), killed in assembly and publishing
    script = tmp_path / "stub_report.py"
    script.write_text(STUB_REPORT, encoding="utf-8")
    s = time.monotonic()
    ok = subprocess.run(
        [sys.executable, str(script), str(project.root)],
        cwd=REPO_DIR,
        env=_env(project),
        capture_output=True,
        text=True,
    )
    rduration = time.monotonic() - s
    assert ok.returncode == 0, ok.stderr
    assert check_report(project) == []
    for i, frac in enumerate(_slices(rng, REPORT_KILLS, 0.3, 1.05)):
        points += _kill_run(lambda: _start([str(script), str(project.root)], project), frac * rduration)
        if problems := check_report(project):
            corrupt.append(f"report kill {i} at {frac:.2f}: {problems}")
    ok = subprocess.run(
        [sys.executable, str(script), str(project.root)],
        cwd=REPO_DIR,
        env=_env(project),
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert check_report(project) == []
    assert not list((project.build / "reports").glob("*.partial"))

    # 3. atomic.publish itself, killed mid-loop
    loop = tmp_path / "publish_loop.py"
    loop.write_text(PUBLISH_LOOP, encoding="utf-8")
    for i, delay in enumerate(_slices(rng, PUBLISH_KILLS, 0.4, 0.9)):
        points += _kill_run(lambda: _start([str(loop), str(tmp_path)], project), delay)
        if (tmp_path / "pub" / "current").is_symlink() and (problems := _check_publish_dir(tmp_path)):
            corrupt.append(f"publish kill {i}: {problems}")
    assert (tmp_path / "pub" / "current").is_symlink(), "the publish loop never published"

    seconds = time.monotonic() - t0
    request.config.kill_stats = {"points": points, "corrupt": len(corrupt), "seconds": seconds}
    print(
        f"\nkill test: {points} kill points, {len(corrupt)} corrupt outputs, {seconds:.1f} s "
        f"({mid_write} data-build kills landed mid-write; build {duration:.2f} s, stub report {rduration:.2f} s)"
    )
    assert not corrupt, "\n".join(corrupt)
    asked = BUILD_KILLS + REPORT_KILLS + PUBLISH_KILLS
    assert points >= 0.75 * asked, f"only {points} of {asked} kills landed while a build was running"


def test_scratch_of_killed_runs_is_pruned_but_not_a_live_runs(tmp_path: Path) -> None:
    """``*.partial*`` folders of dead processes (data/derived/builds, .build/...) go at the next build; one whose
    name carries the id of a live process stays."""
    from analysis.build import build

    project = copy_study(tmp_path / "study")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    live = subprocess.Popen(["sleep", "120"])
    try:
        builds = project.derived / "builds"
        stale = [
            builds / f"abc-{dead_pid}-000001.partial",
            project.build / "reports" / f"20260101T000000-{dead_pid}-000002.partial",
            project.build / f"x-{dead_pid}-000003.partial.tmp",
        ]
        stale.append(project.build / "pages" / f"k.figures.partial-{dead_pid}-140234")
        kept = builds / f"def-{live.pid}-000004.partial"
        kept_page = project.build / "pages" / f"k.figures.partial-{live.pid}-140234"
        for p in [*stale, kept, kept_page]:
            p.mkdir(parents=True)
            (p / "half.parquet").write_bytes(b"PAR1")
        half_link = (
            project.derived / f".current.{dead_pid}.tmp"
        )  # a publish killed between symlink and replace
        half_link.symlink_to("builds/nowhere")
        live_link = project.derived / f".current.{live.pid}.tmp"
        live_link.symlink_to("builds/nowhere")
        build(project, quiet=True)
        assert not [p for p in stale if p.exists()], stale
        assert kept.is_dir() and kept_page.is_dir() and live_link.is_symlink() and not half_link.is_symlink()
    finally:
        live.kill()
        live.wait()
