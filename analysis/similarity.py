"""How alike two episodes' outbound routes are, compared as the sources describe them.

A route's **staging** is what lies between the departure region and the destination region: the stops of its main
outbound route (up to the first destination stop) in areas of role ``staging`` in data/raw/corridors.csv. Stops at
home (Russia, Belarus) and in the destination region (a stop in the Dominican Republic on the way to Cuba) are not
staging. Two routes are compared on three things, each 0 to 1:

* ``country_score``: the ordered staging countries, by the longest common subsequence (LCS): the mean of
  ``LCS / min(len_a, len_b)`` (is the shorter chain inside the longer one, in order?) and ``2 * LCS / (len_a +
  len_b)`` (how much of both chains is shared), so that the same countries in the same order score 1, a short
  chain repeated inside a longer one scores high, and a shared country out of order counts for less;
* ``corridor_score``: the same on the sequence of corridors (consecutive repeats merged: Algeria then Mauritania
  is one "North and West Africa" step);
* ``jump_off_score``: 1 when the last staging country before the ocean (the jump-off) is the same, else 0.

``similarity`` is their mean. A route without a staging stop (a **stub**) is not comparable: the pair is marked
``is_comparable = false`` with the reason, never scored. A pair is called **alike** when its similarity is at least
:data:`ALIKE_THRESHOLD` and the two routes share at least :data:`ALIKE_MIN_SHARED` staging countries: two routes
that share one stop (both via Casablanca) have that stop in common, not a chain. Both rules are ours, stated on the
methods page.

>>> lcs_score(["DZ", "MR"], ["AM", "DZ", "MA", "SN", "MR"])  # (2/2 + 4/7) / 2
0.786
>>> lcs_score(["AZ", "DZ", "GN"], ["AM", "DZ", "MA", "SN", "MR"])  # (1/3 + 2/8) / 2
0.292
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import polars as pl

from . import steps

__all__ = [
    "route_similarity",
    "lcs_score",
    "staging_sequences",
    "SCHEMA",
    "ALIKE_THRESHOLD",
    "ALIKE_MIN_SHARED",
]

#: pairs scoring at least this are "alike" in findings (ours: same jump-off and most staging shared in order)
ALIKE_THRESHOLD = 0.6
#: ... and sharing at least this many staging countries (a chain, not one common stop)
ALIKE_MIN_SHARED = 2

#: the declared shape of out_route_similarity (analysis/steps.py)
SCHEMA: dict[str, pl.DataType] = dict(steps.table_schema("out_route_similarity"))


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[-1]))
        prev = cur
    return prev[-1]


def lcs_score(a: Sequence[str], b: Sequence[str]) -> float:
    """Mean of ``LCS / min(len)`` and ``2 * LCS / (len(a) + len(b))``, rounded to 3 places; 0 when one is empty."""
    if not a or not b:
        return 0.0
    n = _lcs(a, b)
    return round((n / min(len(a), len(b)) + 2 * n / (len(a) + len(b))) / 2, 3)


def _merge_repeats(xs: Sequence[str]) -> list[str]:
    out: list[str] = []
    for x in xs:
        if not out or out[-1] != x:
            out.append(x)
    return out


def staging_sequences(stops: pl.DataFrame, corridors: pl.DataFrame) -> dict[str, dict]:
    """Per episode: the ordered outbound staging countries, their corridors, the jump-off and whether the order
    is our inference. Uses the main route of the episode's first aircraft (by id) that has staging stops."""
    role = dict(zip(corridors["area"], corridors["role"], strict=True))
    corridor = dict(zip(corridors["area"], corridors["corridor"], strict=True))
    main = stops.filter(pl.col("is_main_variant"))
    out: dict[str, dict] = {}
    for (ep,), g in main.sort("episode_id", "aircraft_id", "seq").group_by("episode_id", maintain_order=True):
        best: dict | None = None
        for (_ac,), r in g.group_by("aircraft_id", maintain_order=True):
            rows = r.sort("seq").to_dicts()
            first_dest = next((x["seq"] for x in rows if role.get(_area(x)) == "destination"), None)
            outbound = [x for x in rows if first_dest is None or x["seq"] < first_dest]
            staged = [x for x in outbound if role.get(_area(x)) == "staging"]
            countries = [_area(x) for x in staged]
            info = {
                "countries": countries,
                "corridors": _merge_repeats([corridor.get(c, "unclassified") for c in countries]),
                "jump_off": countries[-1] if countries else None,
                "order_inferred": any(x["order_basis"] == "inferred" for x in staged),
            }
            if best is None or (not best["countries"] and countries):
                best = info
        out[ep] = best or {"countries": [], "corridors": [], "jump_off": None, "order_inferred": False}
    return out


def _area(row: dict) -> str:
    return row["place_id"] if row.get("place_precision") == "region" else (row.get("country") or "")


def route_similarity(stops: pl.DataFrame, corridors: pl.DataFrame) -> pl.DataFrame:
    """Every pair of episodes, scored on their staging (see the module docstring)."""
    info = staging_sequences(stops, corridors)
    rows = []
    for a, b in itertools.combinations(sorted(info), 2):
        ia, ib = info[a], info[b]
        row = {k: None for k in SCHEMA} | {
            "episode_a": a,
            "episode_b": b,
            "staging_a": ";".join(ia["countries"]),
            "staging_b": ";".join(ib["countries"]),
            "jump_off_a": ia["jump_off"],
            "jump_off_b": ib["jump_off"],
            "order_inferred": ia["order_inferred"] or ib["order_inferred"],
            "shared_country_count": 0,
            "shared_countries": "",
            "is_alike": False,
        }
        stubs = [e for e, i in ((a, ia), (b, ib)) if not i["countries"]]
        if stubs:
            rows.append(
                row
                | {
                    "is_comparable": False,
                    "reason": "not comparable: no staging stop reported for " + " and ".join(stubs),
                }
            )
            continue
        shared = sorted(set(ia["countries"]) & set(ib["countries"]))
        cs = lcs_score(ia["countries"], ib["countries"])
        rs = lcs_score(ia["corridors"], ib["corridors"])
        js = 1.0 if ia["jump_off"] == ib["jump_off"] else 0.0
        sim = round((cs + rs + js) / 3, 3)
        rows.append(
            row
            | {
                "is_comparable": True,
                "reason": "both routes report staging stops",
                "shared_countries": ";".join(shared),
                "shared_country_count": len(shared),
                "country_score": cs,
                "corridor_score": rs,
                "jump_off_score": js,
                "similarity": sim,
                "is_alike": sim >= ALIKE_THRESHOLD and len(shared) >= ALIKE_MIN_SHARED,
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA) if rows else pl.DataFrame(schema=SCHEMA)
