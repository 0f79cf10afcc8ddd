"""How alike two episodes' routes are, and whether they can be compared at all.

Routes are compared on their *staging* stops (main variant, every aircraft, reported and observed): where they
went between origin and destination, which is what distinguishes one route from another. Two routes that both
read "Russia -> Caracas" say nothing about each other: a route without a reported staging stop is a **stub**,
and a pair with a stub is marked ``is_comparable = false`` with the reason, never scored.

For comparable pairs:

* ``country_jaccard``: shared staging countries / all staging countries (0 = none shared, 1 = the same set);
* ``order_agreement``: of the pairs of shared countries, the share visited in the same order by both routes;
  null when fewer than two are shared or when either order is our inference from a list (``order_note`` says
  which), since an inferred order cannot confirm or contradict another;
* ``mean_nearest_stop_km``: for every located staging stop of one route, the distance to the nearest located
  staging stop of the other, averaged both ways (a modified Hausdorff distance);
* ``located_share_a`` / ``_b``: the share of each route's legs whose both ends are located;
* ``similarity = 0.5 * country_jaccard + 0.5 * exp(-mean_nearest_stop_km / 1000)`` (null without located stops).
"""

from __future__ import annotations

import itertools
import math

import polars as pl

from .geo import great_circle_km

__all__ = ["route_similarity", "mean_nearest_km", "order_agreement", "SCHEMA"]

SCHEMA = {
    "episode_a": pl.String, "episode_b": pl.String, "is_comparable": pl.Boolean, "reason": pl.String,
    "shared_countries": pl.String, "shared_country_count": pl.Int64, "country_jaccard": pl.Float64,
    "order_agreement": pl.Float64, "order_note": pl.String, "mean_nearest_stop_km": pl.Float64,
    "located_share_a": pl.Float64, "located_share_b": pl.Float64, "similarity": pl.Float64,
}


def mean_nearest_km(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float | None:
    """Symmetric mean nearest-neighbour great-circle distance between two point sets (None if one is empty)."""
    if not a or not b:
        return None

    def one_way(p, q):
        return sum(min(great_circle_km(*x, *y) for y in q) for x in p) / len(p)

    return (one_way(a, b) + one_way(b, a)) / 2


def order_agreement(a: list[str], b: list[str]) -> float | None:
    """Share of pairs of items common to both sequences that appear in the same relative order.

    >>> order_agreement(["SY", "SN"], ["SY", "SN"]), order_agreement(["DZ", "MR"], ["MR", "DZ"])
    (1.0, 0.0)
    >>> order_agreement(["DZ"], ["DZ", "MR"]) is None  # fewer than two shared: nothing to compare
    True
    """
    shared = [x for x in dict.fromkeys(a) if x in set(b)]
    if len(shared) < 2:
        return None
    pos_a = {x: a.index(x) for x in shared}
    pos_b = {x: b.index(x) for x in shared}
    pairs = list(itertools.combinations(shared, 2))
    same = sum((pos_a[x] < pos_a[y]) == (pos_b[x] < pos_b[y]) for x, y in pairs)
    return same / len(pairs)


def route_similarity(stops: pl.DataFrame, legs: pl.DataFrame | None = None) -> pl.DataFrame:
    main = stops.filter(pl.col("is_main_variant"))
    episodes = sorted(main["episode_id"].unique().to_list())
    info = {}
    for e in episodes:
        s = main.filter(pl.col("episode_id") == e).sort("aircraft_id", "seq")
        # staging abroad: a stop in Russia on the way out (Sochi) says nothing about the corridor
        staging = s.filter((pl.col("role") == "staging") & (pl.col("country").fill_null("") != "RU"))
        seq = [c for c in staging["country"].to_list() if c]
        located = list({(r[0], r[1]) for r in staging.filter(pl.col("lat").is_not_null()).select("lat", "lon").iter_rows()})
        share = None
        if legs is not None:
            lg = legs.filter((pl.col("episode_id") == e) & pl.col("is_main_variant"))
            share = lg["distance_km"].is_not_null().mean() if lg.height else 0.0
        info[e] = {"countries": set(seq), "order": list(dict.fromkeys(seq)), "points": located,
                   "inferred_order": bool((staging["order_basis"] == "inferred").any()) if staging.height else False,
                   "located_share": share}
    rows = []
    for a, b in itertools.combinations(episodes, 2):
        ia, ib = info[a], info[b]
        row = {k: None for k in SCHEMA} | {"episode_a": a, "episode_b": b, "located_share_a": ia["located_share"],
                                           "located_share_b": ib["located_share"], "shared_country_count": 0,
                                           "shared_countries": ""}
        stubs = [e for e, i in ((a, ia), (b, ib)) if not i["countries"]]
        if stubs:
            rows.append(row | {"is_comparable": False,
                               "reason": f"not comparable: no staging stop reported for {' and '.join(stubs)} (a stub route)"})
            continue
        shared = ia["countries"] & ib["countries"]
        union = ia["countries"] | ib["countries"]
        jac = len(shared) / len(union)
        if ia["inferred_order"] or ib["inferred_order"]:
            order, note = None, "the stop order of one route is our inference"
        else:
            order = order_agreement(ia["order"], ib["order"])
            note = None if order is not None else "fewer than two shared staging countries"
        mnk = mean_nearest_km(ia["points"], ib["points"])
        sim = None if mnk is None else 0.5 * jac + 0.5 * math.exp(-mnk / 1000)
        rows.append(row | {"is_comparable": True, "reason": "both routes report staging stops",
                           "shared_countries": ";".join(sorted(shared)), "shared_country_count": len(shared),
                           "country_jaccard": jac, "order_agreement": order, "order_note": note,
                           "mean_nearest_stop_km": mnk, "similarity": sim})
    return pl.DataFrame(rows, schema=SCHEMA) if rows else pl.DataFrame(schema=SCHEMA)
