"""Small, safe HTML pieces for notebooks and report pages: tables, headings, finding lists.

Every value from the data is HTML-escaped here: a title or callsign holding ``<script>`` shows as text and
never runs. Notebooks use these instead of building HTML themselves.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

import polars as pl
from IPython.display import HTML

__all__ = ["esc", "table", "heading", "para", "findings_list", "fmt", "bullet_list", "key_values"]


def esc(value: object) -> str:
    """HTML-escaped text of any value (None shows as an em dash)."""
    return "—" if value is None else html.escape(str(value), quote=True)


def fmt(value: object, digits: int = 1) -> str:
    """A value formatted for reading: thousands separators, UTC times, lists joined."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v, digits) for v in value)
    return str(value)


def table(df: pl.DataFrame, columns: Sequence[str] | None = None, labels: dict[str, str] | None = None,
          digits: int = 1, caption: str | None = None) -> HTML:
    """An escaped HTML table of ``df`` (optionally some columns, relabelled)."""
    columns = list(columns or df.columns)
    labels = labels or {}
    head = "".join(f"<th>{esc(labels.get(c, c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(fmt(row[c], digits))}</td>" for c in columns) + "</tr>"
        for row in df.select(columns).iter_rows(named=True))
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return HTML(f'<div class="table-wrap"><table class="data">{cap}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>")


def heading(text: object, level: int = 2) -> HTML:
    level = min(max(level, 1), 6)
    return HTML(f"<h{level}>{esc(text)}</h{level}>")


def para(text: object) -> HTML:
    return HTML(f"<p>{esc(text)}</p>")


def bullet_list(items: Sequence[object]) -> HTML:
    return HTML("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>")


def key_values(pairs: dict[str, object], digits: int = 1) -> HTML:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(fmt(v, digits))}</td></tr>" for k, v in pairs.items())
    return HTML(f'<table class="kv">{rows}</table>')


def findings_list(findings: pl.DataFrame, sources: pl.DataFrame | None = None) -> HTML:
    """Findings with their value, confidence, evidence rows and sources."""
    names = {}
    if sources is not None:
        names = {r["source_id"]: f"{r['source_id']}: {r['outlet'] or 'unnamed outlet'}"
                 + (f", {r['published_reported']}" if r.get("published_reported") else "")
                 for r in sources.iter_rows(named=True)}
    items = []
    for r in findings.iter_rows(named=True):
        srcs = "; ".join(names.get(s, s) for s in (r["source_ids"] or "").split(";") if s) or "derived from observed records"
        value = fmt(r["value"], 2) + (f" {r['unit']}" if r["unit"] else "")
        rng = (f" (range {fmt(r['value_low'], 1)} to {fmt(r['value_high'], 1)})"
               if r.get("value_low") is not None and r.get("value_high") is not None else "")
        items.append(
            f'<li class="finding" id="finding-{esc(r["finding_id"])}"><p class="statement">{esc(r["statement"])}</p>'
            f'<p class="meta"><span class="value">{esc(r["metric"])} = {esc(value)}{esc(rng)}</span> · '
            f'<span class="confidence confidence-{esc(r["confidence"])}">{esc(r.get("likelihood") or "")}'
            f'{"; " if r.get("likelihood") else ""}confidence: {esc(r["confidence"])}</span></p>'
            + (f'<p class="meta">Why: {esc(r["confidence_reason"])}</p>' if r.get("confidence_reason") else "")
            + f'<details><summary>Evidence and sources</summary><p>Evidence rows: {esc(r["evidence"].replace(";", ", "))}</p>'
            f"<p>Sources: {esc(srcs)}</p></details></li>")
    return HTML('<ol class="findings">' + "".join(items) + "</ol>")
