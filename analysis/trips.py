"""What a trip is and where the study's region is: one definition for the observed path and for discovery.

* **Region**: the countries (ISO alpha-2) of role ``destination`` in corridors.csv (:func:`study_region`). An observed
  trip must touch one of them to become an episode; discovery's ``landed_in_region`` / ``departed_region`` patterns
  test them; findings use the same areas.
* **Trip**: the legs of one aircraft in time order (first airborne fix, then leg number), a new trip starting when
  the aircraft was unseen in the air for more than a break (the last airborne fix of one leg to the first of the
  next, both always known) (:func:`split_trips`). The break is data: the ``trip`` pattern's ``max_stop_h`` in
  interest_patterns.csv (:func:`trip_break`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import polars as pl

__all__ = ["study_region", "trip_break", "split_trips", "TRIP_PATTERN"]

#: the row of interest_patterns.csv whose ``max_stop_h`` parameter is the trip break
TRIP_PATTERN = "trip"


def study_region(corridors: pl.DataFrame) -> frozenset[str]:
    """The study's destination region: the countries (ISO alpha-2) of role 'destination' in corridors.csv."""
    return frozenset(
        a
        for a, r in zip(corridors["area"], corridors["role"], strict=True)
        if r == "destination" and a and len(a) == 2
    )


def trip_break(interest_patterns: pl.DataFrame) -> timedelta:
    """The longest time an aircraft may be unseen in the air within one trip: ``max_stop_h`` of the ``trip`` row of
    interest_patterns.csv (validated by :func:`analysis.validate.load_raw`; a table read without it raises
    :class:`KeyError` naming the file and parameter)."""
    from .validate import parse_parameters

    rows = interest_patterns.filter(pl.col("pattern_id") == TRIP_PATTERN)
    if rows.is_empty():
        raise KeyError(
            f"interest_patterns.csv: expected a row for pattern {TRIP_PATTERN!r} (parameter max_stop_h)"
        )
    params = parse_parameters(rows["parameters"][0], TRIP_PATTERN)[0]
    if "max_stop_h" not in params:
        raise KeyError(f"interest_patterns.csv: pattern {TRIP_PATTERN!r} needs parameter 'max_stop_h'")
    return timedelta(hours=params["max_stop_h"])


def split_trips(legs: Sequence[dict], max_break: timedelta) -> list[list[dict]]:
    """The legs of ONE aircraft (dicts with ``first_seen_utc``, ``last_seen_utc``, ``leg_no``) -> its trips, each a
    list of legs in time order: a new trip starts when the next leg's first airborne fix is more than
    ``max_break`` after the previous leg's last one.

    >>> from datetime import datetime, UTC
    >>> d = lambda day, h: datetime(2025, 10, day, h, tzinfo=UTC)
    >>> legs = [{"leg_no": 2, "first_seen_utc": d(3, 8), "last_seen_utc": d(3, 12)},
    ...         {"leg_no": 1, "first_seen_utc": d(1, 8), "last_seen_utc": d(1, 14)},
    ...         {"leg_no": 3, "first_seen_utc": d(9, 8), "last_seen_utc": d(9, 9)}]
    >>> [[leg["leg_no"] for leg in trip] for trip in split_trips(legs, timedelta(hours=72))]
    [[1, 2], [3]]
    """
    ordered = sorted(legs, key=lambda leg: (leg["first_seen_utc"], leg["leg_no"]))
    trips: list[list[dict]] = []
    for leg in ordered:
        if trips and leg["first_seen_utc"] - trips[-1][-1]["last_seen_utc"] <= max_break:
            trips[-1].append(leg)
        else:
            trips.append([leg])
    return trips
