"""The report's kernel pool: python3 kernels that run its notebooks with papermill, one page at a time each.

Starting a kernel and importing polars, altair, duckdb and the package in it costs about a CPU-second, as much as
the cells of a short page; so a kernel, once started and warmed (:data:`WARM_CODE`), runs several pages in turn.
The first cell of each page (:data:`SETUP_CELL`, removed from the page) empties the namespace (IPython's
``%reset -f``: every name the previous page defined is gone, the execution count starts again at 1) before the
page's own cells run, and restarts the chart numbering; imported modules stay imported. What the warm-up created
(the libraries' modules and schemas) is frozen out of the garbage collector's passes (``gc.freeze``), so that the
collection after each page looks only at what pages created. A kernel is retired after :data:`PAGES_PER_KERNEL`
pages (its memory does not creep up over a long report) and every kernel is shut down when the report is done,
after a failure too.

:func:`run_page` executes one job's notebook in a kernel of the pool and returns the page body (HTML without code
cells) and each cell's time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .pageplan import Job
from .paths import Project

__all__ = [
    "KERNEL_ARGS",
    "WARM_CODE",
    "RESET_CODE",
    "SETUP_CELL",
    "SETUP_TAG",
    "PAGES_PER_KERNEL",
    "Kernel",
    "KernelPool",
    "kernel_env",
    "run_page",
]

log = logging.getLogger(__name__)

#: kernel options: log only errors (hides ipykernel's "Kernel is running over TCP" warning on every start); no
#: input history (nothing written to ~/.ipython, nothing lost when a kernel is killed)
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"]

#: Pages one kernel runs before it is retired and a fresh one takes its place. Each retirement costs a warm-up (about
#: 1.7 CPU-s); the namespace is emptied and collected between pages, so a kernel hardly grows: in the 50-page study
#: the two kernels, 25 pages each, peaked at 208 and 171 MB (12 a kernel cost 10 CPU-s more, at the same peak).
PAGES_PER_KERNEL = 30

#: Run in a kernel before each page (first in its setup cell): every name of the previous page (or of the
#: warm-up) goes, outputs cached by IPython go, the execution count starts again at 1, garbage is collected.
RESET_CODE = """get_ipython().run_line_magic("reset", "-f")
get_ipython().execution_count = 1
__import__("gc").collect()"""

#: First cell of every notebook run (removed from the page): an empty namespace (:data:`RESET_CODE`; in the
#: page's first cell rather than a request of its own, which cost a quarter of a second between pages), then the
#: chart settings of this page.
SETUP_CELL = (
    RESET_CODE
    + """
from analysis import charts as _charts
_charts.start_page(prefix={prefix}, figures={figures})
del _charts"""
)
SETUP_TAG = "flights-setup"

#: Run in each kernel once, as soon as it has started (while another page runs): the heavy imports and the
#: database connection, so that a page's own start costs little; then the namespace is emptied.
WARM_CODE = """import sys as _sys
# altair's schema validation imports jsonschema, which builds an IRI grammar (1.3 s) that no chart needs
_sys.modules.setdefault("rfc3987_syntax", None)
import altair, duckdb, polars
import IPython.display
from analysis import charts, present, queries
try:
    queries.sources()  # opens the database (a quarter of a second): every page starts with a query
except Exception:
    pass  # the page itself reports it
"""


def kernel_env(project: Project) -> dict[str, str]:
    """Environment every report kernel starts with."""
    return {
        "FLIGHTS_ROOT": str(project.root),
        "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "ignore::DeprecationWarning"),
    }


class Kernel:
    """One python3 kernel: started and warmed by :class:`KernelPool`, then given one page at a time. Because the
    kernel manager is ours, nbclient leaves the kernel running after a page; :meth:`shutdown` ends it."""

    def __init__(self, env: dict[str, str], cwd: Path | None = None):
        from jupyter_client.manager import AsyncKernelManager

        clients: list = []
        self.clients = clients

        class _Manager(AsyncKernelManager):
            async def start_kernel(self, **kw):
                merged = dict(kw.pop("env", None) or os.environ)
                merged.update(env)
                return await self._async_start_kernel(env=merged, **kw)

            def client(self, **kw):
                c = super().client(**kw)
                clients.append(c)
                return c

        self.km = _Manager(kernel_name="python3")
        self.cwd = cwd
        self.pages = 0  # pages run so far
        self.budget = 1  # pages it may run (set by the pool)
        self.pid: int | None = None
        self._lock = threading.Lock()
        self._down = False

    def start(self) -> None:
        """Start the kernel and run :data:`WARM_CODE` in it."""
        from jupyter_core.utils import run_sync

        with self._lock:
            if self._down:
                return
            kw = {"cwd": str(self.cwd)} if self.cwd else {}
            run_sync(self.km.start_kernel)(extra_arguments=KERNEL_ARGS, **kw)
            self.pid = getattr(self.km.provisioner, "pid", None)
        # the warm-up's objects (modules, altair's schema classes...) leave the collector's generations: each page's
        # collection then takes 0.02 CPU-s instead of 0.2
        self.execute(WARM_CODE + "\n" + RESET_CODE + '\n__import__("gc").freeze()', "warm-up")

    def execute(self, code: str, what: str) -> None:
        """Run ``code`` in the kernel on a client of its own (not a page's), ignoring its output."""
        from jupyter_core.utils import run_sync

        run_sync(self._execute)(code, what)

    async def _execute(self, code: str, what: str) -> None:
        kc = self.km.client()
        self.clients.remove(kc)  # not a page's client: stopped here
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=120)
            reply = await kc.execute_interactive(
                code, timeout=300, store_history=False, output_hook=lambda msg: None
            )
            if reply["content"].get("status") != "ok":  # the page itself will then fail with the real error
                log.warning(
                    "kernel %s failed: %s: %s",
                    what,
                    reply["content"].get("ename"),
                    reply["content"].get("evalue"),
                )
        finally:
            kc.stop_channels()

    def release_clients(self) -> None:
        while self.clients:
            c = self.clients.pop()
            try:
                c.stop_channels()
            except Exception:  # noqa: BLE001 - a client already closed
                pass

    def shutdown(self) -> None:
        from jupyter_core.utils import run_sync

        with self._lock:
            self._down = True
            self.release_clients()
            try:
                if self.km.has_kernel:
                    run_sync(self.km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001 - a kernel that died already
                pass


class KernelPool:
    """Kernels for ``pages`` pages run ``workers`` at a time, each kernel running up to ``pages_per_kernel`` of them.

    :meth:`take` hands out a kernel that has run its last page (:meth:`give_back`; the page's setup cell empties
    its namespace), or a new one, started and warmed in a pool thread (at most ``workers`` kernels run pages).
    When a kernel starts its last page, the kernel that will take its place starts warming, so that pages do not
    wait for it. A kernel whose page failed is shut down. :meth:`close` ends every kernel.
    """

    def __init__(
        self,
        env: dict[str, str],
        workers: int,
        pages: int,
        pages_per_kernel: int | None = None,
        cwd: Path | None = None,
    ):
        self.env = env
        self.cwd = cwd
        self.workers = max(1, workers)
        self.per_kernel = max(1, pages_per_kernel or PAGES_PER_KERNEL)
        self._unplanned = pages  # pages no kernel has been started for yet
        self._cond = threading.Condition()
        self._idle: list[tuple[Kernel, Future]] = []  # kernels ready (or getting ready) for their next page
        self._busy = 0  # kernels running a page
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="kernel-start")
        self.kernels: list[Kernel] = []
        #: page -> process id of the kernel it ran in
        self.pids: dict[str, int | None] = {}

    def _spawn(self) -> tuple[Kernel, Future]:
        """A new kernel for the next ``pages_per_kernel`` pages, starting in a pool thread (hold the lock)."""
        kernel = Kernel(self.env, self.cwd)
        kernel.budget = min(self.per_kernel, self._unplanned)
        self._unplanned -= kernel.budget
        self.kernels.append(kernel)
        return kernel, self._threads.submit(kernel.start)

    def take(self, page: str) -> Kernel:
        """A started kernel with an empty namespace, for ``page``."""
        with self._cond:
            while True:
                if self._idle:
                    kernel, ready = self._idle.pop(0)
                    break
                if self._unplanned > 0 and self._busy < self.workers:
                    kernel, ready = self._spawn()
                    break
                self._cond.wait()
            self._busy += 1
            if kernel.pages + 1 >= kernel.budget and self._unplanned > 0:
                self._idle.append(self._spawn())  # its successor warms while it runs its last page
        try:
            ready.result()
        except BaseException:
            self.give_back(kernel, ok=False)
            raise
        self.pids[page] = kernel.pid
        return kernel

    def give_back(self, kernel: Kernel, ok: bool = True) -> None:
        """After a page: the kernel waits for its next page, or is shut down when it has run its pages or its page
        failed."""
        kernel.pages += 1
        kernel.release_clients()  # the page's client (nbclient leaves it open: the kernel manager is ours)
        retire = not ok or kernel.pages >= kernel.budget
        if retire:
            kernel.shutdown()
        with self._cond:
            self._busy -= 1
            if not retire:
                self._idle.append((kernel, _done()))
            elif not ok:
                self._unplanned += kernel.budget - kernel.pages  # its other pages go to a new kernel
            self._cond.notify_all()

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        for kernel in self.kernels:
            kernel.shutdown()


def _done() -> Future:
    ready: Future = Future()
    ready.set_result(None)
    return ready


_local = threading.local()


def _exporter():
    from nbconvert import HTMLExporter

    if getattr(_local, "exporter", None) is None:
        _local.exporter = HTMLExporter(
            template_name="basic", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
        )
    return _local.exporter


def _prepare(job: Job, project: Project, workdir: Path, figures: Path | None) -> Path:
    """The job's notebook with the setup cell in front, written to the scratch folder."""
    import nbformat

    nb = nbformat.read(str(project.notebooks / job.notebook), as_version=4)
    cell = nbformat.v4.new_code_cell(
        SETUP_CELL.format(
            prefix=json.dumps(job.page.removesuffix(".html")),
            figures=json.dumps(str(figures)) if figures else "None",
        )
    )
    cell.metadata["tags"] = [SETUP_TAG]
    nb.cells.insert(0, cell)
    path = workdir / f"{job.page.removesuffix('.html')}.input.ipynb"
    nbformat.write(nb, str(path))
    return path


def run_page(
    job: Job, project: Project, workdir: Path, figures: Path | None, kernels: KernelPool
) -> tuple[str, list[tuple[float, str]]]:
    """Execute one notebook with papermill in a kernel of ``kernels``; return its HTML body (no code cells) and
    each cell's seconds.

    Charts the notebook shows are written as vega-lite specs into ``figures`` (when given); the report renders
    them to SVG and PNG outside the kernel.
    """
    import nbformat
    import papermill

    logging.getLogger("traitlets").setLevel(
        logging.ERROR
    )  # "Could not destroy zmq context" noise at clean-up
    logging.getLogger("papermill").setLevel(logging.ERROR)

    out = workdir / f"{job.page.removesuffix('.html')}.ipynb"
    t0 = time.monotonic()
    kernel = kernels.take(job.page)
    ok = False
    try:
        papermill.execute_notebook(
            str(_prepare(job, project, workdir, figures)),
            str(out),
            parameters=job.parameters,
            # no cwd: papermill would chdir this whole process (other threads too); the kernel runs in the
            # notebooks' folder (the pool starts it there)
            kernel_name="python3",
            progress_bar=False,
            cwd=None,
            log_output=False,
            km=kernel.km,
            extra_arguments=KERNEL_ARGS,
            request_save_on_cell_execute=False,
        )
        ok = True
    finally:
        kernels.give_back(kernel, ok)
    t1 = time.monotonic()
    nb = nbformat.read(str(out), as_version=4)
    setup = [
        float(c.metadata.get("papermill", {}).get("duration") or 0.0)
        for c in nb.cells
        if SETUP_TAG in c.get("metadata", {}).get("tags", [])
    ]
    drop = {"parameters", "injected-parameters", SETUP_TAG}
    nb.cells = [c for c in nb.cells if not drop & set(c.get("metadata", {}).get("tags", []))]
    cells = [
        (float(c.metadata.get("papermill", {}).get("duration") or 0.0), c.source.strip().split("\n")[0][:70])
        for c in nb.cells
        if c.cell_type == "code"
    ] + [(setup[0], "(setup: page settings)")]
    body, _ = _exporter().from_notebook_node(nb)
    log.debug(
        "%s: papermill %.2f s, cells %.2f s, html %.2f s",
        job.page,
        t1 - t0,
        sum(c[0] for c in cells),
        time.monotonic() - t1,
    )
    return body, cells
