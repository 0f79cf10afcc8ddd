"""How the command line shows the package's messages, and the progress of counted work.

Library code only logs, through its module's logger (``log = logging.getLogger(__name__)``): ``log.info`` for
progress and status (pages done and remaining, rows per second, peak memory), ``log.warning`` for what a reader
must see. Importing the package changes no logging state: no handler, no level. Showing the messages is the
caller's choice:

* the command line (:func:`analysis.cli.main`, ``python -m analysis.tracks.archive``) calls :func:`install`: INFO
  lines of the ``analysis`` loggers go to stdout as they are (``make report`` shows each page and the final
  ``peak memory`` line), WARNING to stderr as ``warning: ...`` (ERROR as ``error: ...``);
* a notebook or another program that configures no logging sees the warnings (Python's last-resort handler writes
  them to stderr) but not the INFO progress. That is intended; ``logging.basicConfig(level=logging.INFO)`` or
  :func:`install` shows it too.

Counted work (trace files ingested, archive members read) shows a tqdm bar on stderr while it runs
(:class:`Progress`), only when stderr is a terminal unless the caller asks for it, never when the caller asks for
quiet; its totals end in one log line, so a CI log shows the figures without the bar.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO

from tqdm import tqdm

__all__ = ["install", "uninstall", "Progress"]

#: the logger tree the console handler is attached to
ROOT = "analysis"


class _Console(logging.Handler):
    """INFO and below to stdout as the bare message, WARNING and above to stderr as ``<level>: message``. The
    streams are looked up when a line is written, so a swapped ``sys.stdout`` (pytest's capsys) gets it."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if record.levelno >= logging.WARNING:
                stream: IO[str] = sys.stderr
                text = f"{record.levelname.lower()}: {text}"
            else:
                stream = sys.stdout
            if _Bar.drawn:  # a bar being drawn is cleared, the line written, the bar drawn again
                with tqdm.external_write_mode(file=stream):
                    _write(stream, text)
            else:  # no bar: tqdm's lock is never taken (worker processes fork from this one)
                _write(stream, text)
        except Exception:
            self.handleError(record)


def _write(stream: IO[str], text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


_installed: tuple[_Console, int] | None = None  # the handler and the level the logger had before


def install() -> bool:
    """Show the ``analysis`` loggers' messages on the console (see the module docstring). Idempotent: a second
    call adds nothing. Returns whether this call installed the handler (the one to :func:`uninstall` it)."""
    global _installed
    logger = logging.getLogger(ROOT)
    if _installed is not None and _installed[0] in logger.handlers:
        return False
    handler = _Console()
    _installed = (handler, logger.level)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return True


def uninstall() -> None:
    """Undo :func:`install`: the handler removed, the logger's level as it was."""
    global _installed
    if _installed is None:
        return
    handler, level = _installed
    logger = logging.getLogger(ROOT)
    logger.removeHandler(handler)
    logger.setLevel(level)
    _installed = None


class _Bar(tqdm):
    monitor_interval = 0  # no monitor thread (worker pools fork while a bar runs)
    drawn = 0  # bars of :class:`Progress` open now


class Progress:
    """Progress of counted work: a tqdm bar on stderr while it runs, then one log line with the totals.

    ``show``: True draws the bar even when stderr is not a terminal, None (the default) only when it is one, False
    never; with False the totals line is logged at DEBUG (the caller asked for quiet), else at INFO on ``logger``.
    ``total``: the count expected (None when unknown: the bar counts without a percentage)::

        bar = Progress(log, "[tracks] readsb traces", total=len(files), unit="files")
        for batch in work:
            bar.update(done, f"{rows:,} rows")
        bar.close(f"[tracks] ... {done} files, {rows:,} rows in {bar.seconds:.1f} s")
    """

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        total: int | None = None,
        unit: str = "it",
        show: bool | None = None,
    ) -> None:
        self.logger, self.show = logger, show
        self.t0 = time.perf_counter()
        on = show if show is not None else _is_terminal(sys.stderr)
        self._bar = (
            _Bar(total=total, desc=what, unit=f" {unit}", file=sys.stderr, leave=False, dynamic_ncols=True)
            if on
            else None
        )
        _Bar.drawn += self._bar is not None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()  # a failure ends the bar; the caller logs the totals itself on success

    @property
    def seconds(self) -> float:
        """Seconds since the work started."""
        return time.perf_counter() - self.t0

    def update(self, done: int, note: str = "") -> None:
        """``done`` items so far (a running total), ``note`` the other figures shown after the bar."""
        if self._bar is None:
            return
        if note:
            self._bar.set_postfix_str(note, refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self, summary: str | None = None) -> None:
        """End the bar (its last frame drawn with the figures given last) and log ``summary``, the totals."""
        if self._bar is not None:
            self._bar.refresh()
            self._bar.close()
            self._bar = None
            _Bar.drawn -= 1
        if summary is not None:
            self.logger.log(logging.DEBUG if self.show is False else logging.INFO, summary)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
