"""Entering data without repetition: stops.csv rows for several aircraft that flew the same stops.

``stops.csv`` has one row per stop *per aircraft* (each aircraft's route is its own chain of legs, with its own
times and sources). When two or more aircraft flew together, type the shared route once and expand it::

    python -m analysis stops-template 2026-11-managua RA-11111 RA-22222 \\
        --stops "UUEE:origin::2026-11-03" "GOBD:staging" "MNMG:destination:2026-11-05" --sources S900

prints one CSV block (header included, append it to data/raw/stops.csv without the header) with a row per stop
and aircraft, the stop ids made by the stop id rule (:func:`stop_id`), ``variant=main`` and the seq numbers in
order. Edit the rows that differ afterwards (one aircraft leaving a day later, a stop only one of them made).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from .schema import TABLES

__all__ = ["stop_id", "shared_stops", "stops_csv"]

_STOPS = next(t for t in TABLES if t.name == "stops")


def stop_id(episode_id: str, aircraft_id: str, seq: int, variant: str = "main") -> str:
    """The stop id rule: ``<episode_id>.<aircraft_id>.<variant>.<seq, two digits>``, e.g.
    ``2019-03-caracas.RA-82035.main.02`` (the second stop of the An-124's main route)."""
    return f"{episode_id}.{aircraft_id}.{variant}.{seq:02d}"


def shared_stops(
    episode_id: str,
    aircraft_ids: Sequence[str],
    stops: Sequence[str | tuple],
    source_ids: str = "",
    variant: str = "main",
) -> list[dict[str, str]]:
    """stops.csv rows: every stop of ``stops`` for every aircraft of ``aircraft_ids``.

    Each stop is ``"place_id:role[:arr_time[:dep_time]]"`` or a tuple ``(place_id, role, arr_time, dep_time)``; times
    as reported (see docs/evidence.md). The rows are in stops.csv's column order, aircraft after aircraft."""
    columns = _STOPS.column_names
    rows = []
    for aircraft in aircraft_ids:
        for seq, stop in enumerate(stops, 1):
            parts = list(stop) if isinstance(stop, tuple) else stop.split(":", 3)
            place, role, arr, dep = (parts + ["", "", "", ""])[:4]
            row = dict.fromkeys(columns, "")
            row.update(
                {
                    "stop_id": stop_id(episode_id, aircraft, seq, variant),
                    "episode_id": episode_id,
                    "aircraft_id": aircraft,
                    "variant": variant,
                    "seq": str(seq),
                    "place_id": place,
                    "role": role,
                    "arr_time": arr,
                    "dep_time": dep,
                    "is_inferred": "false",
                    "order_basis": "reported",
                    "source_ids": source_ids,
                }
            )
            rows.append({c: row[c] for c in columns})
    return rows


def stops_csv(rows: list[dict[str, str]], header: bool = True) -> str:
    """The rows as CSV text in stops.csv's format."""
    out = io.StringIO()
    columns = _STOPS.column_names
    w = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    if header:
        w.writeheader()
    w.writerows(rows)
    return out.getvalue()
