"""Two builds at once in one checkout (two `make data` / `make report`) do not corrupt each other's outputs.

The build lock (``.build/lock``) and the report lock (``.build/report.lock``) serialise them: both runs exit 0 and
the published outputs are complete afterwards. The report runs with its notebooks stubbed (see test_atomic.py):
what is under test is the locking, the build folders and the publishing, not the notebooks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_atomic import STUB_REPORT, _env, check_derived, check_report, copy_study

from analysis.paths import REPO_DIR


def _together(cmds: list[list[str]], env: dict) -> list[subprocess.CompletedProcess]:
    procs = [
        subprocess.Popen(c, cwd=REPO_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in cmds
    ]
    out = []
    for p, c in zip(procs, cmds, strict=True):
        stdout, stderr = p.communicate(timeout=180)
        out.append(subprocess.CompletedProcess(c, p.returncode, stdout, stderr))
    return out


def test_two_builds_and_two_reports_at_once(tmp_path: Path) -> None:
    project = copy_study(tmp_path / "study")
    env = _env(project)
    waited = 0
    # two forced data builds started together, twice (each must build, so they must take turns)
    for _ in range(2):
        runs = _together([[sys.executable, "-m", "analysis", "build", "--force"]] * 2, env)
        for r in runs:
            assert r.returncode == 0, r.stderr
            assert "built data/derived/builds/" in r.stdout, r.stdout
        waited += sum("waiting for another build" in r.stdout + r.stderr for r in runs)
        assert check_derived(project) == []
        ids = [r.stdout.split("built data/derived/builds/")[1].split()[0] for r in runs]
        assert ids[0] != ids[1], "both builds claim the same build folder"
        assert not list((project.derived / "builds").glob("*.partial"))

    # two report pipelines started together (each also runs the data build first, as `make report` does)
    script = tmp_path / "stub_report.py"
    script.write_text(STUB_REPORT, encoding="utf-8")
    runs = _together([[sys.executable, str(script), str(project.root)]] * 2, env)
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert "report written" in r.stdout, r.stdout
    waited += sum("waiting for another build" in r.stdout + r.stderr for r in runs)
    assert check_derived(project) == []
    assert check_report(project) == []
    assert not list((project.build / "reports").glob("*.partial"))
    # the published report was made from the published data
    site = project.reports.resolve()
    assert site.is_dir() and (site / "index.html").stat().st_size > 0
    print(f"\nconcurrent builds: {waited} of 6 runs waited for the lock; outputs complete")
