"""Figure files (SVG and PNG) rendered offline by vl-convert from saved vega-lite specs.

Kept apart from :mod:`analysis.charts` so that the report's renderer processes import only vl-convert, not
altair: the report renders every chart's figures in worker processes while the notebooks still run, once per
distinct spec (the cache key is the spec, the renderer version and the scale).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

__all__ = ["figure_key", "render_figure", "stable_ids", "FigureRenderer"]

_ID = re.compile(r'\bid="([A-Za-z_-]*?)(\d+)"')


def stable_ids(svg: str) -> str:
    """Renumber the SVG's element ids (vega's ``clip7``, ``gradient_12``...) in order of appearance.

    vega numbers them with a counter that lives as long as the renderer process, so the same chart drawn after
    other charts would get other ids and other bytes; renumbered, a figure's bytes depend on its spec alone.
    """
    mapping: dict[str, str] = {}
    counters: dict[str, int] = {}
    for prefix, num in _ID.findall(svg):
        old = f"{prefix}{num}"
        if old not in mapping:
            counters[prefix] = counters.get(prefix, 0) + 1
            mapping[old] = f"{prefix}{counters[prefix]}"
    if not mapping:
        return svg
    pattern = re.compile(
        r'(\bid="|url\(#|href="#)('
        + "|".join(map(re.escape, sorted(mapping, key=len, reverse=True)))
        + r')(?=["\)])'
    )
    return pattern.sub(lambda m: m.group(1) + mapping[m.group(2)], svg)


def figure_key(spec_bytes: bytes, scale: float = 1.5) -> str:
    """Cache key of a rendered figure: the spec, the renderer's version and the scale."""
    import importlib.metadata

    h = hashlib.sha256(spec_bytes)
    h.update(
        f"vl-convert-python={importlib.metadata.version('vl-convert-python')};scale={scale};ids=stable".encode()
    )
    return h.hexdigest()


def render_figure(spec_path: Path, stem: Path, scale: float = 1.5) -> list[Path]:
    """Render a saved vega-lite spec to ``stem.svg`` and ``stem.png`` (the PNG rasterised from the same SVG).

    Files appear complete or not at all (written aside, then renamed).
    """
    import vl_convert

    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    svg = stable_ids(vl_convert.vegalite_to_svg(spec))
    png = vl_convert.svg_to_png(svg, scale=scale)
    out = []
    for ext, data in (("svg", svg.encode("utf-8")), ("png", png)):
        final = Path(f"{stem}.{ext}")
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, final)
        out.append(final)
    return out


class FigureRenderer:
    """SVG and PNG of every chart spec of a report, rendered by vl-convert in worker processes (spawned on the
    first spec that needs drawing), once per distinct spec (``<store>/<key>.svg|png``, key = spec, renderer version
    and scale: :func:`figure_key`). :meth:`add` takes a folder of specs as soon as a page has written them;
    leaving the ``with`` block waits for every figure (or, after an error, cancels those not started)."""

    def __init__(self, store: Path, workers: int):
        self.store = store
        self.store.mkdir(parents=True, exist_ok=True)
        self.workers = max(1, workers)
        #: spec file name -> {"svg": path, "png": path} in the store
        self.files: dict[str, dict[str, Path]] = {}
        self.rendered = 0
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[str, Future] = {}
        import threading

        self._lock = threading.Lock()

    def add(self, folder: Path) -> None:
        for spec in sorted(folder.glob("*.vl.json")):
            key = figure_key(spec.read_bytes())
            with self._lock:
                self.files[spec.name] = {ext: self.store / f"{key}.{ext}" for ext in ("svg", "png")}
                if key in self._futures or all(p.exists() for p in self.files[spec.name].values()):
                    continue
                if self._pool is None:
                    import multiprocessing

                    self._pool = ProcessPoolExecutor(
                        self.workers, mp_context=multiprocessing.get_context("spawn")
                    )
                self._futures[key] = self._pool.submit(render_figure, spec, self.store / key)
                self.rendered += 1

    def __enter__(self) -> FigureRenderer:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            try:
                for f in self._futures.values():
                    if exc[0] is None:
                        f.result()
            finally:
                self._pool.shutdown(cancel_futures=exc[0] is not None)
