"""No command modifies data/raw. accept-raw writes only *.provenance.json records, and only when a checksum differs."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from analysis import provenance
from analysis.paths import REPO_DIR, Project


def _snapshot(raw: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime (ns) of every file under data/raw."""
    return {
        p.relative_to(raw).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(raw.rglob("*"))
        if p.is_file()
    }


def _cli(project: Project, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, FLIGHTS_ROOT=str(project.root))
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_commands_never_modify_raw(fresh_project: Project) -> None:
    raw = fresh_project.raw
    before = _snapshot(raw)
    assert len(before) >= 26
    for args in (["validate"], ["build"], ["build", "--force"], ["episodes"], ["accept-raw"]):
        done = _cli(fresh_project, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert _snapshot(raw) == before, f"`python -m analysis {' '.join(args)}` changed data/raw"
    assert "already match" in _cli(fresh_project, "accept-raw").stdout

    from analysis.report import jobs_for

    jobs = jobs_for(fresh_project)
    assert len(jobs) >= 3
    assert _snapshot(raw) == before


def test_accept_raw_writes_only_the_changed_record(fresh_project: Project) -> None:
    raw = fresh_project.raw
    path = raw / "claims.csv"
    path.write_bytes(path.read_bytes() + b"\n")  # a harmless change: a trailing blank line
    before = _snapshot(raw)
    done = _cli(fresh_project, "validate")
    assert done.returncode == 2 and "data/raw/claims.csv: CHANGED" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert _snapshot(raw) == before
    done = _cli(fresh_project, "accept-raw")
    assert done.returncode == 0, done.stderr
    after = _snapshot(raw)
    changed = sorted(k for k in before if before[k] != after[k])
    assert changed == ["claims.csv.provenance.json"], changed
    assert set(after) == set(before)
    assert provenance.read_record(path)["sha256"] == provenance.checksum(path)
    assert _cli(fresh_project, "validate").returncode == 0
