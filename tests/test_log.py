"""Messages go through logging, progress through :class:`analysis.console.Progress`; the command line decides how
they show (:func:`analysis.console.install`), importing the package decides nothing."""

from __future__ import annotations

import ast
import importlib
import json
import logging
import pkgutil
import subprocess
import sys

import pytest

from analysis import console
from analysis.paths import REPO_DIR, Project

PACKAGE = REPO_DIR / "analysis"


def _is_main_block(node: ast.AST) -> bool:
    """``if __name__ == "__main__":``"""
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in node.test.comparators)
    )


def bare_prints(source: str) -> list[int]:
    """Lines of the ``print(...)`` calls in ``source`` outside a function named ``main`` and outside the
    ``if __name__ == "__main__":`` block (a command module's own output)."""
    found: list[int] = []

    def visit(node: ast.AST, allowed: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main":
            allowed = True
        if _is_main_block(node):
            allowed = True
        if (
            not allowed
            and isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "print"
        ):
            found.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, allowed)

    visit(ast.parse(source), False)
    return found


def test_the_print_finder_finds_what_it_should():
    src = (
        "def f():\n    print('x')\n"  # library code: found
        "def main():\n    print('ok')\n    def say(m):\n        print(m)\n"  # a command's own output
        "class C:\n    def m(self):\n        print(1)\n"  # found
        "log.info('print(')\n"  # not a call of print
        "if __name__ == '__main__':\n    print('ok')\n"
    )
    assert bare_prints(src) == [2, 9]


def test_no_bare_print_in_library_code():
    """Library code logs (``log.info`` / ``log.warning``) or uses :class:`analysis.console.Progress`; only the
    command line (cli.py) and the ``main()`` of a command module print."""
    offenders = {
        str(path.relative_to(REPO_DIR)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "cli.py" and (lines := bare_prints(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, offenders


def test_importing_the_package_adds_no_logging_handler():
    """Every module of the package imported: no handler on the root logger but pytest's own, none and no level on
    the ``analysis`` loggers (a notebook's logging is its own; only a command installs the console)."""
    import analysis

    names = sorted(
        m.name
        for m in pkgutil.walk_packages(analysis.__path__, "analysis.")
        if not m.name.endswith("__main__")
    )
    for name in names:
        importlib.import_module(name)
    ours = {
        n: lg
        for n, lg in logging.root.manager.loggerDict.items()
        if (n == "analysis" or n.startswith("analysis.")) and isinstance(lg, logging.Logger)
    }
    assert len(names) > 30 and len(ours) > 10, (names, ours)  # the package was imported, its loggers made
    assert [h for h in logging.root.handlers if type(h).__module__ != "_pytest.logging"] == []
    assert {n: lg.handlers for n, lg in ours.items() if lg.handlers} == {}
    assert {n: lg.level for n, lg in ours.items() if lg.level != logging.NOTSET} == {}


@pytest.fixture
def installed():
    assert console.install()
    yield
    console.uninstall()


def test_the_console_shows_info_on_stdout_and_warnings_on_stderr(installed, capsys):
    log = logging.getLogger("analysis.somewhere")
    log.debug("not shown")
    log.info("page 3 of 5 done")
    log.warning("a study folder's notebooks are not run")
    log.error("cannot write")
    out, err = capsys.readouterr()
    assert out == "page 3 of 5 done\n"
    assert err == "warning: a study folder's notebooks are not run\nerror: cannot write\n"
    logging.getLogger("elsewhere").warning("not ours")  # another library's logger: not this handler's
    assert "not ours" not in capsys.readouterr().out


def test_installing_twice_shows_each_line_once(installed, capsys):
    assert not console.install()  # already there: nothing added
    logging.getLogger("analysis").info("once")
    assert capsys.readouterr().out == "once\n"
    console.uninstall()
    logging.getLogger("analysis").info("after uninstall")
    assert capsys.readouterr() == ("", "")
    assert (
        logging.getLogger("analysis").level == logging.NOTSET and not logging.getLogger("analysis").handlers
    )


def test_the_command_line_shows_build_progress_once_per_run(built_project: Project, monkeypatch, capsys):
    """``python -m analysis build`` twice in one process: one "up to date" line each time (the handler is the
    command's, not added again), and nothing left installed after it."""
    from analysis import cli

    monkeypatch.setenv("FLIGHTS_ROOT", str(built_project.root))
    for _ in range(2):
        assert cli.main(["build"]) == 0
        out, err = capsys.readouterr()
        assert out.count("data/derived is up to date") == 1 and err == "", (out, err)
    assert not logging.getLogger("analysis").handlers


def test_a_quiet_build_shows_nothing_even_on_the_console(built_project: Project, installed, capsys):
    from analysis.build import build

    build(built_project, quiet=True)
    assert capsys.readouterr() == ("", "")
    build(built_project)
    assert "data/derived is up to date" in capsys.readouterr().out


def test_progress_draws_when_asked_and_logs_the_totals(installed, capsys, caplog):
    log = logging.getLogger("analysis.tracks.store")
    bar = console.Progress(log, "[tracks] traces", total=4, unit="files", show=True)
    for done in range(1, 5):
        bar.update(done, f"{done * 10} rows")
    bar.close("[tracks] traces: 4/4 files, 40 rows")
    out, err = capsys.readouterr()
    assert out == "[tracks] traces: 4/4 files, 40 rows\n"  # the totals: a plain line
    assert "4/4" in err and "40 rows" in err and "files" in err  # the bar's last frame, on stderr

    quiet = console.Progress(log, "[tracks] traces", total=4, unit="files", show=False)
    quiet.update(4, "40 rows")
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="analysis"):
        quiet.close("[tracks] traces: 4/4 files, 40 rows")
    assert capsys.readouterr() == ("", "")  # asked for quiet: no bar, the totals only at DEBUG
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]


def test_progress_draws_no_bar_when_stderr_is_not_a_terminal(installed, capsys):
    bar = console.Progress(logging.getLogger("analysis.x"), "[archive]", unit="members")  # show=None
    bar.update(7, "70 positions")
    bar.close("[archive] done: 7 members")
    assert capsys.readouterr() == ("[archive] done: 7 members\n", "")  # capsys' stderr is no terminal


def test_the_archive_command_shows_its_totals_on_stdout(tmp_path):
    """``python -m analysis.tracks.archive``: the module runs as itself (its logger is ``analysis.tracks.archive``,
    not ``__main__``), so the console shows its totals; stderr is no terminal here, so no bar."""
    from synth.globalday import generate_day

    day = generate_day(tmp_path / "day.tar", n_aircraft=5, seed=1)
    run = subprocess.run(
        [sys.executable, "-m", "analysis.tracks.archive", str(day.path), "--out", str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_DIR,
    )
    assert run.returncode == 0 and run.stderr == "", run.stderr
    man = json.loads((tmp_path / "store" / "manifest.json").read_text(encoding="utf-8"))
    assert man["members"] > 0
    want = f"[archive] done: {man['members']:,} members, {man['positions']:,} positions in "
    assert run.stdout.startswith(want) and run.stdout.count("\n") == 1, run.stdout
