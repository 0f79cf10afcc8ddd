"""Payload against range: how much an aircraft type can carry over a given nonstop distance.

A type's **payload-range curve** is a set of cited points ``(payload_t, range_km)`` from data/raw/type_ranges.csv:
at least the range at maximum payload, one at a lower payload, and the ferry range (no payload). Between the
points the curve is read linearly (the usual shape of a published payload-range diagram: flat at maximum payload up
to the range at which fuel must replace payload, then falling to the ferry range). Each source's points make a curve
of their own; only the best class of source a type has is used (manufacturer, then official, reference, weak).

For a nonstop leg of great-circle length ``d`` the most payload a curve allows is read at two distances: ``d`` (the
shortest possible path) and ``d * ROUTE_FACTOR_HIGH`` (a flown path longer than the great circle, as airways, winds
and detours around closed airspace make it). The answer is the interval over both distances and every curve:
``[low, high]`` tonnes. Past a curve's last point the answer depends on what that point is: past a stated ferry range
(payload 0) the leg cannot be flown nonstop (``None``); past any other last point the cited figures say nothing
(``UNKNOWN``, a NaN: not computed, never guessed). Fuel reserves are inside the published figures; nothing else is
modelled.

>>> curve = [(50.0, 4000.0), (40.0, 5000.0), (0.0, 9000.0)]
>>> payload_at(curve, 3000.0), payload_at(curve, 4500.0), payload_at(curve, 7000.0), payload_at(curve, 9500.0)
(50.0, 45.0, 20.0, None)
>>> payload_at([(50.0, 4000.0), (40.0, 5000.0)], 5500.0)  # no ferry figure: beyond the last point is unknown
nan
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ROUTE_FACTOR_HIGH",
    "UNKNOWN",
    "known",
    "payload_at",
    "Curve",
    "curves",
    "payload_interval",
    "verdict",
    "VERDICTS",
    "fits_hold",
]

#: a flown path up to 10% longer than the great circle (airways, winds, a detour around closed airspace)
ROUTE_FACTOR_HIGH = 1.10
#: beyond the cited figures: not computed
UNKNOWN = float("nan")


def known(x: float | None) -> bool:
    """A number the figures give (not None = not flyable, not NaN = not computed)."""
    return x is not None and x == x


#: what a load claim is against a leg: within the lowest payload allowed, within the highest only, or beyond both
VERDICTS = (
    "fits",
    "fits only if the path was close to the great circle",
    "does not fit",
    "not flyable nonstop",
    "not computed: the hop is longer than the cited figures reach",
)


@dataclass(frozen=True)
class Curve:
    """One source's payload-range points for one type, sorted by range."""

    type_id: str
    source_ids: str
    source_class: str
    points: tuple[tuple[float, float], ...]  # (payload_t, range_km), range ascending
    range_ids: tuple[str, ...]

    @property
    def max_payload(self) -> float:
        return max(p for p, _ in self.points)

    @property
    def ferry_km(self) -> float:
        return max(r for _, r in self.points)

    @property
    def is_complete(self) -> bool:
        """Has a maximum-payload point, a lower-payload point and a ferry point (payload 0)."""
        return len(self.points) >= 3 and any(p == 0 for p, _ in self.points)


def payload_at(points: Sequence[tuple[float, float]], distance_km: float) -> float | None:
    """Most payload (t) the curve allows over ``distance_km`` nonstop; None past a stated ferry range (payload 0),
    UNKNOWN past any other last point."""
    pts = sorted(points, key=lambda x: (x[1], -x[0]))
    if not pts:
        return UNKNOWN
    if distance_km <= pts[0][1]:
        return pts[0][0]
    for (p0, r0), (p1, r1) in zip(pts, pts[1:], strict=False):
        if r0 <= distance_km <= r1:
            if r1 == r0:
                return min(p0, p1)
            return p0 + (p1 - p0) * (distance_km - r0) / (r1 - r0)
    return None if pts[-1][0] == 0 else UNKNOWN


_CLASS_RANK = {"manufacturer": 0, "official": 1, "reference": 2, "weak": 3}


def curves(rows: Iterable[dict]) -> dict[str, list[Curve]]:
    """type_id -> its curves, one per source, of the best source class the type has.

    ``rows``: type_ranges rows with ``type_id``, ``range_id``, ``range_km``, ``payload_t`` (a ferry row may leave it
    empty: 0 is meant), ``payload_condition``, ``qualifier``, ``source_class`` and ``source_ids``. Rows without a
    payload (other than ferry rows) cannot be placed on a curve and are left out, and so is a ferry range given only
    as a lower bound ("at least 9,480 km": a flight once made, not where the curve ends).
    """
    by_type: dict[str, dict[str, list[dict]]] = {}
    for r in rows:
        payload = 0.0 if r["payload_condition"] == "ferry" else r["payload_t"]
        if payload is None or r["range_km"] is None:
            continue
        if payload == 0 and r.get("qualifier") in ("at_least", "more_than"):
            continue  # "a ferry range of at least X" bounds the end of the curve from below: not its end
        by_type.setdefault(r["type_id"], {}).setdefault(r["source_ids"], []).append(
            r | {"payload_t": payload}
        )
    out: dict[str, list[Curve]] = {}
    for type_id, by_source in by_type.items():
        best = min(
            _CLASS_RANK.get(r.get("source_class") or "weak", 3) for rs in by_source.values() for r in rs
        )
        cs = []
        for src, rs in sorted(by_source.items()):
            rs = [r for r in rs if _CLASS_RANK.get(r.get("source_class") or "weak", 3) == best]
            if not rs:
                continue
            pts = tuple(
                sorted(
                    {(float(r["payload_t"]), float(r["range_km"])) for r in rs}, key=lambda x: (x[1], -x[0])
                )
            )
            cs.append(
                Curve(
                    type_id,
                    src,
                    rs[0].get("source_class") or "weak",
                    pts,
                    tuple(sorted(r["range_id"] for r in rs)),
                )
            )
        out[type_id] = cs
    return out


def payload_interval(cs: Sequence[Curve], distance_km: float) -> tuple[float | None, float | None]:
    """(low, high) tonnes over ``distance_km``..``distance_km * ROUTE_FACTOR_HIGH`` and every curve.

    ``high``: the most any curve allows over the great circle; None when every curve that reaches that far says
    the hop cannot be flown nonstop; UNKNOWN when no curve reaches that far. ``low``: the least any curve allows
    over the longer path; None when a curve says the longer path cannot be flown; UNKNOWN when none reaches it.
    """
    near = [payload_at(c.points, distance_km) for c in cs]
    far = [payload_at(c.points, distance_km * ROUTE_FACTOR_HIGH) for c in cs]
    near_known = [x for x in near if x is not None and known(x)]
    far_known = [x for x in far if x is not None and known(x)]
    if near_known:
        high: float | None = max(near_known)
    else:
        high = None if any(x is None for x in near) else UNKNOWN
    if any(x is None for x in far):
        low: float | None = None
    else:
        low = min(far_known) if far_known else UNKNOWN
    return low, high


def verdict(load_t: float, low: float | None, high: float | None) -> str:
    """Where a claimed load stands against the payload interval of a leg (one of :data:`VERDICTS`).

    >>> verdict(35, 40, 60), verdict(35, 20, 40), verdict(35, 10, 20), verdict(35, None, None)
    ('fits', 'fits only if the path was close to the great circle', 'does not fit', 'not flyable nonstop')
    >>> verdict(35, UNKNOWN, UNKNOWN)
    'not computed: the hop is longer than the cited figures reach'
    """
    if high is None:
        return VERDICTS[3]
    if not known(high):
        return VERDICTS[4]
    if known(low) and load_t <= low:  # type: ignore[operator]
        return VERDICTS[0]
    if load_t <= high:
        return VERDICTS[1]
    return VERDICTS[2]


def fits_hold(
    units: Sequence[tuple[float | None, float | None, float | None]],
    hold: tuple[float | None, float | None, float | None],
) -> bool | None:
    """Whether units of (length, width, height) m fit a hold of (length, width, height) m, placed one behind the
    other; None when a dimension is not sourced (not computed, never guessed).

    >>> fits_hold([(12.0, 3.0, 3.3), (9.0, 3.0, 3.0)], (20.0, 3.4, 3.4)), fits_hold([(7, 3.6, 3)], (20, 3.4, 3.4))
    (False, False)
    >>> fits_hold([(7.0, 3.0, 3.3)], (20.0, 3.4, 3.4)), fits_hold([(7.0, None, 3.3)], (20.0, 3.4, 3.4)) is None
    (True, True)
    """
    hl, hw, hh = hold
    sized = [(ln, wd, ht) for ln, wd, ht in units if ln is not None and wd is not None and ht is not None]
    if hl is None or hw is None or hh is None or len(sized) != len(units):
        return None
    return (sum(ln for ln, _, _ in sized) <= hl) and all(wd <= hw and ht <= hh for _, wd, ht in sized)
