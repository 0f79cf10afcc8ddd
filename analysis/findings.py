"""Cross-episode findings, computed from the derived tables, never typed in.

Each finding is a row: a ``statement`` written from the numbers, the ``metric`` and its ``value`` (with
``value_low``/``value_high`` where the evidence allows a range), the ``episode_ids`` it concerns, the
``evidence`` rows behind it (``table:id``) and their ``source_ids``. Every row also says how far it can be
trusted, following the rubric in docs/confidence.md (after ICD 203, which keeps likelihood apart from
confidence):

* ``likelihood``: how probable the statement is, in the fixed words of ICD 203 (``roughly even chance``,
  ``likely``, ``very likely``, ...);
* ``confidence``: ``high``, ``moderate`` or ``low``, from the number of *independent origins* behind it (a
  relay or rewrite of one report is one origin, see ``core_sources.origin_id``), the precision of its places
  and times and whether it rests on an inference; ``confidence_reason`` says which;
* ``importance`` (higher first: how many episodes it spans, whether it says something a single episode page
  does not, and its confidence) and ``is_key`` (the few the index leads with).

Dates in statements are printed as the sources report them (:func:`analysis.timespec.display`), never as the
UTC lower bound of their interval. :func:`summarize` turns the key findings into ``out_summary``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

import polars as pl

from .timespec import display

__all__ = ["compute", "summarize", "FINDINGS_SCHEMA", "SUMMARY_SCHEMA", "LIKELIHOOD", "CONFIDENCE", "rubric"]

FINDINGS_SCHEMA = {
    "finding_id": pl.String, "category": pl.String, "title": pl.String, "statement": pl.String,
    "metric": pl.String, "value": pl.Float64, "value_low": pl.Float64, "value_high": pl.Float64,
    "unit": pl.String, "episode_ids": pl.String, "evidence": pl.String, "source_ids": pl.String,
    "origin_count": pl.Int64, "likelihood": pl.String, "confidence": pl.String, "confidence_reason": pl.String,
    "importance": pl.Float64, "is_key": pl.Boolean,
}
SUMMARY_SCHEMA = {"seq": pl.Int64, "sentence": pl.String, "finding_ids": pl.List(pl.String)}

#: ICD 203 likelihood words, least to most probable
LIKELIHOOD = ("almost no chance", "very unlikely", "unlikely", "roughly even chance", "likely", "very likely",
              "almost certain")
CONFIDENCE = ("low", "moderate", "high")
#: how much a category adds beyond what one episode page already shows (0-1), for ``importance``
NOVELTY = {
    "route corridors": 1.0, "Atlantic gateway": 1.0, "range test": 0.9, "sanctioned airframe landings": 0.9,
    "transponder off on crossings": 0.8, "timing against preceding events": 0.6, "recurring airframes": 0.7,
    "route similarity": 0.4, "sanctions at flight time": 0.5, "reported figures against geometry": 0.6,
    "dwell at destination": 0.2, "route directness": 0.2, "observed against reported": 0.6,
    "transponder gaps": 0.6,
}
KEY_COUNT = 6
#: timing findings look back this far from a departure; an event further back is not called its context
TIMING_WINDOW = timedelta(days=90)
_AMERICAS = "Americas"
_HOME = "Russia"


def _ids(values: Iterable[str | None]) -> str:
    out: list[str] = []
    for v in values:
        for part in (v or "").split(";"):
            if part and part not in out:
                out.append(part)
    return ";".join(out)


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 86400


def rubric(origins: int, secondary_only: bool, inferred: bool, imprecise: bool, disputed: bool) -> tuple[str, str]:
    """(confidence, likelihood) by the rubric of docs/confidence.md.

    >>> rubric(1, False, False, False, False)
    ('moderate', 'likely')
    >>> rubric(2, False, False, False, False)
    ('high', 'very likely')
    >>> rubric(3, True, False, False, False)  # only rewrites: low whatever their number
    ('low', 'roughly even chance')
    >>> rubric(1, False, True, True, False)  # one origin, uncontradicted, but inferred and imprecise
    ('low', 'likely')
    """
    if secondary_only or origins == 0:
        level = "low"
    elif origins >= 2 and not inferred and not imprecise:
        level = "high"
    elif origins >= 2 or not (inferred or imprecise):
        level = "moderate"
    else:
        level = "low"
    if disputed and level == "high":
        level = "moderate"
    # likelihood is judged apart from confidence: agreement of independent origins against contrary reports
    if secondary_only or origins == 0:
        likelihood = "roughly even chance"
    elif disputed:
        likelihood = "likely" if origins >= 2 else "roughly even chance"
    else:
        likelihood = "very likely" if origins >= 2 else "likely"
    return level, likelihood


class _Collector:
    def __init__(self, tables: dict[str, pl.DataFrame]):
        self.t = tables
        self.rows: list[dict] = []
        src = tables["core_sources"]
        # weak pages: rewrites, or secondary pages that do not say (or we do not know) what they relay
        self.secondary = set(src.filter((pl.col("kind") == "rewrite") | (
            pl.col("is_secondary") & pl.col("origin").is_null() & pl.col("relays_source_id").is_null()))["source_id"].to_list())
        self.origin = dict(zip(src["source_id"], src["origin_id"], strict=True))
        conflicts = tables["core_conflicts"]
        stops = tables["core_stops"]
        # rows some source disputes: those a conflict position names, or a whole route variant a position encodes
        self.disputed: set[str] = set()
        legs = tables["core_legs"]
        self.leg_stops = {r[0]: (r[1], r[2]) for r in legs.select("leg_id", "from_stop_id", "to_stop_id").iter_rows()}
        for r in conflicts.iter_rows(named=True):
            if r["record_ids"]:
                self.disputed |= set(r["record_ids"].split(";"))
            elif r["variant"]:
                self.disputed |= set(stops.filter((pl.col("episode_id") == r["episode_id"])
                                                  & (pl.col("variant") == r["variant"]))["stop_id"])
        self.summary = tables["out_episode_summary"]

    def origins(self, source_ids: str) -> list[str]:
        return sorted({self.origin.get(s) or s for s in (source_ids or "").split(";") if s})

    def add(self, finding_id: str, category: str, title: str, statement: str, metric: str, value: float | None,
            unit: str, episodes: Iterable[str], evidence: Iterable[str], source_ids: str, *,
            inferred: bool = False, imprecise: bool = False, disputed: bool | None = None, why: str = "",
            low: float | None = None, high: float | None = None, likelihood: str | None = None,
            confidence: str | None = None, weakest: int | None = None) -> None:
        source_ids = _ids([source_ids])
        eps = _ids(episodes)
        evidence = list(evidence)
        if disputed is None:
            rows = set()
            for e in evidence:
                table, _, key = e.partition(":")
                rows |= set(self.leg_stops.get(key, ())) if table == "core_legs" else {key}
            disputed = bool(rows & self.disputed)
        origins = self.origins(source_ids)
        ids = [s for s in source_ids.split(";") if s]
        secondary_only = bool(ids) and all(s in self.secondary for s in ids)
        level, like = rubric(len(origins), secondary_only, inferred, imprecise, disputed)
        if weakest is not None and weakest < 2 and level == "high":
            level = "moderate"  # many origins in all, but some items rest on one each
        level = confidence or level
        parts = [f"{len(origins)} independent origin{'s' if len(origins) != 1 else ''} "
                 f"({', '.join(origins[:5])}{', ...' if len(origins) > 5 else ''})"]
        if len(ids) > len(origins):
            parts.append(f"{len(ids) - len(origins)} relayed or rewritten page(s) not counted again")
        if secondary_only:
            parts.append("only secondary sources (rewrites or relays)")
        if inferred:
            parts.append("rests on an inference (an assumed airport, origin or stop order)")
        if imprecise:
            parts.append("places or times known only to the country or the day")
        if disputed:
            parts.append("sources disagree on part of it (see conflicts)")
        if weakest is not None and weakest < 2:
            parts.append("some of the items it counts rest on a single origin each")
        if why:
            parts.append(why)
        scope = min(1.0, len([e for e in eps.split(";") if e]) / 5)
        weight = {"high": 1.0, "moderate": 0.6, "low": 0.3}[level]
        self.rows.append({
            "finding_id": finding_id, "category": category, "title": title, "statement": statement,
            "metric": metric, "value": None if value is None else float(value),
            "value_low": None if low is None else float(low), "value_high": None if high is None else float(high),
            "unit": unit, "episode_ids": eps, "evidence": _ids(evidence), "source_ids": source_ids,
            "origin_count": len(origins), "likelihood": likelihood or like, "confidence": level,
            "confidence_reason": "; ".join(parts) + ".",
            "importance": round(0.4 * scope + 0.4 * NOVELTY.get(category, 0.3) + 0.2 * weight, 3), "is_key": False,
        })

    # --- helpers over the derived tables ---------------------------------------------------------------------
    def main_stops(self) -> pl.DataFrame:
        """Main-variant stops, reported and observed (an observed trip is evidence of where an airframe went)."""
        return self.t["core_stops"].filter(pl.col("is_main_variant"))

    def when(self, episode_id: str) -> str:
        """How the episode is dated in the sources: the first reported time of its lead route."""
        s = self.main_stops().filter(pl.col("episode_id") == episode_id).sort("seq")
        for r in s.iter_rows(named=True):
            for col in ("arr_reported", "dep_reported"):
                if r[col] and r[f"{col[:3]}_earliest_utc"] is not None:
                    return display(r[col])
        return "undated"

    def corridor_map(self) -> dict[str, str]:
        c = self.t["core_corridors"]
        return dict(zip(c["area"], c["corridor"], strict=True))

    def area(self, row: dict) -> str | None:
        return row["place_id"] if row.get("place_precision") == "region" else row["country"]


def _label(c: _Collector, aircraft_id: str) -> str:
    a = c.t["core_aircraft"].filter(pl.col("aircraft_id") == aircraft_id)
    if a.height == 0:
        return aircraft_id
    r = a.row(0, named=True)
    if not r["registration"] and not r["name"]:
        return f"an {r['type_name']} (registration not reported)" if r["type_name"] else aircraft_id
    return r["label"]


# --- route corridors ------------------------------------------------------------------------------------------

def _route_corridors(c: _Collector) -> None:
    stops = c.main_stops()
    cmap = c.corridor_map()
    summary = c.summary
    rows = []
    for (ep,), g in stops.group_by("episode_id", maintain_order=True):
        g = g.sort("aircraft_id", "seq")
        staging = g.filter(pl.col("role") == "staging")
        first_dest = g.filter(pl.col("role") == "destination")["seq"].min()
        out, ret = [], []
        for r in staging.iter_rows(named=True):
            corr = cmap.get(c.area(r) or "", "unclassified")
            if corr in (_AMERICAS, _HOME):
                continue
            (out if first_dest is None or r["seq"] < first_dest else ret).append((r, corr))
        corridors = sorted({corr for _, corr in out + ret})
        srow = summary.filter(pl.col("episode_id") == ep)
        t0 = srow["first_time_utc"][0] if srow.height else None
        rows.append({"episode_id": ep, "t0": t0, "corridors": corridors, "out": out, "ret": ret, "stops": g})
        if not corridors:
            continue
        def names(items):
            return ", ".join(dict.fromkeys(r["place_name"] for r, _ in items)) or "no stop reported"
        inferred = bool(g.filter(pl.col("role") == "staging")["location_basis"].is_in(["inferred"]).any()
                        or (g["place_precision"] != "airport").any())
        c.add(f"corridor-{ep}", "route corridors", f"{ep}: {' and '.join(corridors)}",
              f"{ep} ({c.when(ep)}): outbound staging {names(out)}; return staging {names(ret)}. Corridor(s) by our "
              f"classification: {', '.join(corridors)}.", "corridor_count", len(corridors), "corridors", [ep],
              [f"core_stops:{r['stop_id']}" for r, _ in out + ret] + [f"core_corridors:{c.area(r)}" for r, _ in out + ret],
              _ids(r["source_ids"] for r, _ in out + ret), imprecise=inferred,

              why="the grouping of countries into corridors is our definition (data/raw/corridors.csv)")
    # the shift by period, split at the route-constraining context events
    events = c.t["core_events"].filter(pl.col("kind") == "route_constraint").sort("start_earliest_utc")
    if events.height == 0:
        return
    cuts = events.iter_rows(named=True)
    cuts = list(cuts)
    dated = [r for r in rows if r["t0"] is not None and r["corridors"]]
    periods = []
    bounds = [None] + [e["start_earliest_utc"] for e in cuts] + [None]
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i], bounds[i + 1]
        members = [r for r in dated if (lo is None or r["t0"] >= lo) and (hi is None or r["t0"] < hi)]
        periods.append((i, members))
    parts = []
    for i, members in periods:
        if i == 0:
            head = f"Before {cuts[0]['title']} ({display(cuts[0]['start_reported'])})"
        else:
            head = f"After {cuts[i - 1]['title']} ({display(cuts[i - 1]['start_reported'])})"
        if not members:
            parts.append(f"{head}: no dated episode with a reported staging stop.")
            continue
        counts: dict[str, list[str]] = {}
        for r in members:
            for corr in r["corridors"]:
                counts.setdefault(corr, []).append(r["episode_id"])
        desc = "; ".join(f"{corr} {len(eps)} of {len(members)} ({', '.join(eps)})" for corr, eps in sorted(counts.items()))
        parts.append(f"{head}: {desc}.")
    syria_after = sum(1 for i, m in periods if i > 0 for r in m if "Syria / East Mediterranean" in r["corridors"])
    last = periods[-1][1]
    before = periods[0][1]
    after = [r for i, m in periods if i > 0 for r in m]
    syria_before = sum("Syria / East Mediterranean" in r["corridors"] for r in before)
    other: dict[str, int] = {}
    for r in after:
        for corr in r["corridors"]:
            other[corr] = other.get(corr, 0) + 1
    headline = (f"Before the context event '{cuts[0]['title']}' ({display(cuts[0]['start_reported'])}), "
                f"{syria_before} of {len(before)} dated routes with a reported staging stop went through Syria; after it, "
                f"{syria_after} of {len(after)} did, and they staged instead in "
                + ", ".join(f"{corr} ({n} of {len(after)})" for corr, n in sorted(other.items(), key=lambda kv: -kv[1]))
                + ". By period: ")
    undated = [r["episode_id"] for r in rows if r["t0"] is None]
    stubs = [r["episode_id"] for r in rows if r["t0"] is not None and not r["corridors"]]
    note = ""
    if stubs:
        note += f" Not counted (no staging stop reported): {', '.join(stubs)}."
    if undated:
        note += f" Not counted (undated): {', '.join(undated)}."
    evidence = [f"core_events:{e['event_id']}" for e in cuts]
    members_all = [r for _, m in periods for r in m]
    for r in members_all:
        evidence += [f"core_stops:{s['stop_id']}" for s, _ in r["out"] + r["ret"]]
    weakest = min((len(c.origins(_ids(s_["source_ids"] for s_, _ in r["out"] + r["ret"]))) for r in members_all), default=0)
    c.add("corridor-shift", "route corridors", "Staging moved from Syria to North-West Africa and the Caucasus",
          headline + " ".join(parts) + note,
          "routes_via_syria_after_first_constraint", syria_after, "routes",
          [r["episode_id"] for r in members_all], evidence,
          _ids([e["source_ids"] for e in cuts] + [s["source_ids"] for r in members_all for s, _ in r["out"] + r["ret"]]),
          imprecise=True, weakest=weakest,
          why=f"{len(last)} episode(s) in the latest period; the corridor grouping is our definition; a shift in time "
              "is shown, not its cause")


# --- Atlantic gateway -----------------------------------------------------------------------------------------

def _crossings(c: _Collector) -> list[dict]:
    cmap = c.corridor_map()
    legs = c.t["core_legs"].filter(pl.col("evidence") == "reported")
    stops = c.t["core_stops"]
    prec = dict(zip(stops["stop_id"], stops["place_precision"], strict=True))
    cname = dict(zip(stops["stop_id"], stops["country_name"], strict=True))
    out = []
    for leg in legs.iter_rows(named=True):
        fa = leg["from_place_id"] if prec.get(leg["from_stop_id"]) == "region" else leg["from_country"]
        ta = leg["to_place_id"] if prec.get(leg["to_stop_id"]) == "region" else leg["to_country"]
        fc, tc = cmap.get(fa or ""), cmap.get(ta or "")
        if fc is None or tc is None or (fc == _AMERICAS) == (tc == _AMERICAS):
            continue
        outbound = tc == _AMERICAS
        end = "from" if outbound else "to"
        gate_name = leg[f"{end}_name"]
        gate_country = cname.get(leg[f"{end}_stop_id"]) or gate_name
        out.append({**leg, "outbound": outbound, "gate": gate_name, "gate_country": gate_country,
                    "gate_is_home": (fc if outbound else tc) == _HOME})
    return out


def _atlantic_gateway(c: _Collector) -> None:
    xs = _crossings(c)
    main = [x for x in xs if x["is_main_variant"]]
    if not main:
        return
    for (ep,), _ in pl.DataFrame({"episode_id": [x["episode_id"] for x in main]}).group_by("episode_id", maintain_order=True):
        mine = [x for x in main if x["episode_id"] == ep]
        if all(x["gate_is_home"] for x in mine):
            continue  # no stop reported on the Old-World side: counted in the summary only
        bits = []
        for x in mine:
            km = f"{x['distance_km']:,.0f} km" if x["distance_km"] is not None else "length unknown (an end is not located)"
            where = "no stop reported on the Old-World side" if x["gate_is_home"] else x["gate"]
            inferred = " (stop order inferred)" if x["is_order_inferred"] else ""
            bits.append(f"{_label(c, x['aircraft_id'])} {'out' if x['outbound'] else 'back'} via {where}{inferred}, "
                        f"{x['from_name']} to {x['to_name']} {km}")
        known = [x for x in mine if x["distance_km"] is not None]
        c.add(f"gateway-{ep}", "Atlantic gateway", f"{ep}: ocean crossing(s) via "
              f"{', '.join(dict.fromkeys(('Russia (no stop)' if x['gate_is_home'] else x['gate']) for x in mine))}",
              f"{ep} ({c.when(ep)}): " + "; ".join(dict.fromkeys(bits)) + ".",
              "longest_crossing_km", max((x["distance_km"] for x in known), default=None), "km", [ep],
              [f"core_legs:{x['leg_id']}" for x in mine], _ids(x["source_ids"] for x in mine),
              inferred=any(x["distance_basis"] == "inferred" or x["is_order_inferred"] for x in mine),
              imprecise=any(x["distance_km"] is None for x in mine))
    # across episodes: which gateways, since when
    staged = [x for x in main if not x["gate_is_home"]]
    summary = c.summary
    t0 = dict(zip(summary["episode_id"], summary["first_time_utc"], strict=True))
    cut = c.t["core_events"].filter(pl.col("kind") == "route_constraint").sort("start_earliest_utc")
    cut_t = cut["start_earliest_utc"][0] if cut.height else None

    def by_country(xs: list[dict]) -> str:
        groups: dict[str, list[dict]] = {}
        for x in xs:
            groups.setdefault(x["gate_country"], []).append(x)
        out = []
        for g, v in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            places = ", ".join(f"{p} {n}" for p, n in sorted(
                {x["gate"]: sum(1 for y in v if y["gate"] == x["gate"]) for x in v}.items()) if p != g)
            out.append(f"{g} {len(v)}" + (f" ({places}{'; country only ' + str(sum(1 for y in v if y['gate'] == g)) if any(y['gate'] == g for y in v) else ''})" if places else ""))
        return ", ".join(out)

    dated = [x for x in staged if t0.get(x["episode_id"]) is not None]
    early = [x for x in dated if cut_t is not None and t0[x["episode_id"]] < cut_t]
    recent = [x for x in dated if cut_t is None or t0[x["episode_id"]] >= cut_t]
    desc = (f"Since {display(cut['start_reported'][0]) if cut.height else 'the start'}, the {len(recent)} reported ocean "
            f"crossings with a known stop on the Old-World side went through {by_country(recent)}"
            + (f"; before, {len(early)} went through {by_country(early)}" if early else "") + "."
            + (f" {sum(x['is_order_inferred'] for x in dated)} of these rest(s) on a stop order we inferred from a list."
               if any(x["is_order_inferred"] for x in dated) else ""))
    longest = max((x for x in staged if x["distance_km"] is not None), key=lambda x: x["distance_km"], default=None)
    home = [x for x in main if x["gate_is_home"]]
    c.add("atlantic-gateway", "Atlantic gateway", "The last stop before the ocean crossing",
          f"{desc} Of {len(main)} reported ocean crossings (main routes, out and back), {len(staged)} have such a stop "
          f"(the last before the crossing, or the first after it on the way back)"
          + (f", {len(staged) - len(dated)} of them undated" if len(staged) > len(dated) else "") + "."
          + (f" The longest located crossing is {longest['from_name']} to {longest['to_name']}, "
             f"{longest['distance_km']:,.0f} km ({longest['episode_id']})." if longest else "")
          + (f" {len(home)} crossing(s) have no stop reported on the Old-World side (the place named there is in "
             "Russia)." if home else ""),
          "crossings_with_gateway", len(staged), "crossings", sorted({x["episode_id"] for x in main}),
          [f"core_legs:{x['leg_id']}" for x in staged], _ids(x["source_ids"] for x in staged),
          inferred=any(x["distance_basis"] == "inferred" or x["is_order_inferred"] for x in staged),
          imprecise=True,
          weakest=min((len(c.origins(x["source_ids"])) for x in staged), default=0),
          why="most gateways are reported as a city or country, the airfield inferred")


# --- range test -----------------------------------------------------------------------------------------------

def _range_test(c: _Collector) -> None:
    ranges = c.t["core_type_ranges"]
    aircraft = c.t["core_aircraft"].select("aircraft_id", "type_id", "label", "type_name")
    legs = (c.t["core_legs"].filter((pl.col("evidence") == "reported") & pl.col("distance_km").is_not_null())
            .join(aircraft, on="aircraft_id", how="left"))
    conflicts = c.t["core_conflicts"]
    for (type_id,), g in legs.group_by("type_id", maintain_order=True):
        r = ranges.filter(pl.col("type_id") == type_id)
        tname = g["type_name"][0]
        if r.height == 0:
            longest = g.sort("distance_km", descending=True).row(0, named=True)
            c.add(f"range-{type_id}", "range test", f"{tname}: no cited range",
                  f"No source in the evidence base gives a range for the {tname}; its longest reported leg "
                  f"({longest['from_name']} to {longest['to_name']}, {longest['distance_km']:,.0f} km great-circle, "
                  f"{longest['episode_id']}) is not tested.", "longest_leg_km", round(longest["distance_km"], 1), "km",
                  [longest["episode_id"]], [f"core_legs:{longest['leg_id']}"], longest["source_ids"],
                  inferred=longest["distance_basis"] == "inferred", confidence="low",
                  why="nothing to test against")
            continue
        best = r.sort("range_km", descending=True).row(0, named=True)
        payload = r.filter(pl.col("payload_condition") == "max_payload")
        full = payload.row(0, named=True) if payload.height else None
        conds = "; ".join(f"{x['range_km']:,.0f} km ({x['payload_condition'].replace('_', ' ')}"
                          f"{', ' + format(x['payload_t'], 'g') + ' t' if x['payload_t'] else ''}, {x['source_ids']})"
                          for x in r.sort("range_km").iter_rows(named=True))
        beyond = g.filter(pl.col("distance_km") > best["range_km"]).sort("distance_km", descending=True)
        beyond_main = beyond.filter(pl.col("is_main_variant"))
        heavy = g.filter((pl.col("distance_km") <= best["range_km"])
                         & (pl.col("distance_km") > (full["range_km"] if full else math.inf)))
        worst = g.sort("distance_km", descending=True).row(0, named=True)
        flagged = []
        for x in beyond.iter_rows(named=True):
            variant = "" if x["is_main_variant"] else f", variant {x['variant']}"
            flagged.append(f"{x['from_name']} to {x['to_name']} {x['distance_km']:,.0f} km ({x['episode_id']}{variant}"
                           f"{', order inferred' if x['is_order_inferred'] else ''})")
        text = ((f"{beyond_main.height} main-route leg(s) of the {tname} are longer than the longest range cited for it "
                 f"({best['range_km']:,.0f} km): per the cited figures they could not be flown nonstop with the stated "
                 f"loads (a lighter load, a ferry configuration or an unreported stop would be needed). ")
                if beyond_main.height else
                f"No main-route leg of the {tname} is longer than the longest range cited for it ({best['range_km']:,.0f} km). ")
        text += (
                 f"Cited ranges: {conds}. Its longest reported leg is {worst['from_name']} to {worst['to_name']}, "
                 f"{worst['distance_km']:,.0f} km great-circle ({worst['episode_id']}). ")
        if flagged:
            text += f"Legs beyond every cited range (all variants): {'; '.join(dict.fromkeys(flagged))}. "
        if heavy.height:
            text += (f"{heavy.height} further leg(s) exceed the maximum-payload range"
                     f"{' of ' + format(full['range_km'], ',.0f') + ' km' if full else ''}: possible only below full "
                     "payload. ")
        # what it says about routes that sources report differently
        for (cid,), cg in conflicts.filter(pl.col("variant").is_not_null()).group_by("conflict_id", maintain_order=True):
            eps = set(cg["episode_id"].drop_nulls())
            ep_legs = g.filter(pl.col("episode_id").is_in(list(eps)))
            if ep_legs.height == 0:
                continue
            per_var = []
            for v in cg["variant"].to_list():
                vl = ep_legs.filter(pl.col("variant") == v)
                if vl.height:
                    per_var.append((v, vl["distance_km"].max()))
            if len(per_var) >= 2 and len({round(km) for _, km in per_var}) > 1:
                fits = [v for v, km in per_var if km <= best["range_km"]]
                text += (f"Conflict {cid}: the longest leg is " + ", ".join(f"{km:,.0f} km in variant {v}" for v, km in per_var)
                         + ("; only variant " + ", ".join(fits) + " stays within the cited range, which favours it. "
                            if fits and len(fits) < len(per_var) else
                            "; every variant exceeds the cited range, so the range test cannot decide between them, though "
                            f"variant {min(per_var, key=lambda x: x[1])[0]} needs the shortest nonstop hop. "
                            if not fits else "; every variant stays within the cited range. "))
        c.add(f"range-{type_id}", "range test", f"{tname}: {beyond_main.height} main-route leg(s) beyond every cited range",
              text.strip(), "legs_beyond_cited_range", beyond_main.height, "legs", sorted(set(g["episode_id"])),
              [f"core_legs:{x}" for x in (beyond["leg_id"].to_list() or [worst["leg_id"]])]
              + [f"core_type_ranges:{x}" for x in r["range_id"]],
              _ids(list(r["source_ids"]) + (beyond["source_ids"].to_list() or [worst["source_ids"]])),
              inferred=bool(beyond["distance_basis"].is_in(["inferred"]).any() or beyond["is_order_inferred"].any()),
              imprecise=True, why="the cited ranges are stated with a payload (none is a ferry range) and come from "
                                  "reference pages, not the manufacturer")


# --- sanctioned airframe: where it was let land ---------------------------------------------------------------

def _sanctioned_landings(c: _Collector) -> None:
    sanctions = c.t["core_sanctions"].filter(pl.col("effective_earliest_utc").is_not_null())
    aircraft = c.t["core_aircraft"]
    stops = c.main_stops()
    summary = c.summary
    t0 = dict(zip(summary["episode_id"], summary["first_time_utc"], strict=True))
    for ac in aircraft.iter_rows(named=True):
        hits = sanctions.filter(((pl.col("target_table") == "aircraft") & (pl.col("target_id") == ac["aircraft_id"]))
                                | ((pl.col("target_table") == "operators") & (pl.col("target_id") == (ac["operator_id"] or ""))))
        if hits.height == 0:
            continue
        first = hits.sort("effective_earliest_utc").row(0, named=True)
        mine = stops.filter((pl.col("aircraft_id") == ac["aircraft_id"]) & ~pl.col("role").is_in(["origin", "home"])
                            & (pl.col("country") != "RU") & pl.col("country").is_not_null())
        since = first["effective_latest_utc"]
        later = [e for e, t in t0.items() if t is not None and t >= since]
        after = mine.filter(pl.col("episode_id").is_in(later))
        undated = sorted({e for e in mine["episode_id"] if t0.get(e) is None})
        if after.height == 0:
            continue
        per = after.group_by("country_name").agg(pl.col("episode_id").unique().sort()).sort("country_name")
        listing = "; ".join(f"{r['country_name']} (trip{'s' if len(r['episode_id']) > 1 else ''} of "
                            f"{', '.join(c.when(e) for e in r['episode_id'])})"
                            for r in per.iter_rows(named=True))
        c.add(f"sanctioned-landings-{ac['aircraft_id']}", "sanctioned airframe landings",
              f"{ac['label']}: {per.height} countries let it land after the designation",
              f"After {first['authority']} designated {first['target_label']} ({display(first['effective_reported'])}), "
              f"{ac['label']} was reported on the ground in {per.height} countries outside Russia: {listing}."
              + (f" Not counted (undated): {', '.join(undated)}." if undated else ""),
              "countries_after_designation", per.height, "countries", sorted(set(after["episode_id"])),
              [f"core_sanctions:{first['sanction_id']}"] + [f"core_stops:{s}" for s in after["stop_id"]],
              _ids([first["source_ids"]] + after["source_ids"].to_list()),
              imprecise=True,
              weakest=min(len(c.origins(x)) for x in after["source_ids"]),
              why="several stops are known only to the country")


def _sanctions_at_flight_time(c: _Collector) -> None:
    stops = c.main_stops()
    aircraft = c.t["core_aircraft"]
    sanctions = c.t["core_sanctions"]
    starts = stops.sort("seq").group_by("episode_id", "aircraft_id", maintain_order=True).agg(
        pl.min_horizontal(pl.col("dep_earliest_utc").min(), pl.col("arr_earliest_utc").min()).alias("t0"),
        pl.col("source_ids"), pl.col("stop_id").first().alias("first_stop")).sort("episode_id", "aircraft_id")
    for r in starts.iter_rows(named=True):
        ac = aircraft.filter(pl.col("aircraft_id") == r["aircraft_id"]).to_dicts()
        if not ac:
            continue
        ac = ac[0]
        hits = sanctions.filter(
            ((pl.col("target_table") == "aircraft") & (pl.col("target_id") == ac["aircraft_id"]))
            | ((pl.col("target_table") == "operators") & (pl.col("target_id") == (ac["operator_id"] or ""))))
        dated = hits.filter(pl.col("effective_latest_utc").is_not_null()).sort("effective_earliest_utc")
        if dated.height == 0 or r["t0"] is None:
            continue
        first = dated.row(0, named=True)
        if first["effective_latest_utc"] > r["t0"]:
            continue
        days = _days(first["effective_latest_utc"], r["t0"])
        fid = f"sanctioned-at-flight-{r['episode_id']}-{ac['aircraft_id']}"
        c.add(fid, "sanctions at flight time", f"{ac['label']} flew under sanctions",
              f"When {ac['label']} set out on {r['episode_id']} ({c.when(r['episode_id'])}), {first['target_label']} had "
              f"been under {first['authority']} sanctions since {display(first['effective_reported'])}, about "
              f"{days:,.0f} days earlier.", "days_under_sanction", round(days, 1), "days", [r["episode_id"]],
              [f"core_stops:{r['first_stop']}", f"core_sanctions:{first['sanction_id']}"],
              _ids([first["source_ids"]] + r["source_ids"]))


# --- transponder off on crossings -----------------------------------------------------------------------------

def _transponder(c: _Collector) -> None:
    claims = c.t["core_claims"].filter(pl.col("kind") == "transponder")
    crossings = {(x["from_stop_id"], x["to_stop_id"]) for x in _crossings(c)}
    legs = c.t["core_legs"]
    if claims.height:
        bits, on_crossing = [], 0
        for r in claims.iter_rows(named=True):
            leg = None
            if r["from_stop_id"] and r["stop_id"]:
                m = legs.filter((pl.col("from_stop_id") == r["from_stop_id"]) & (pl.col("to_stop_id") == r["stop_id"]))
                leg = m.row(0, named=True) if m.height else None
            crossing = leg is not None and (leg["from_stop_id"], leg["to_stop_id"]) in crossings
            on_crossing += crossing
            where = (f"on the leg {leg['from_name']} to {leg['to_name']}"
                     + (" (an ocean crossing)" if crossing else "") if leg else "leg not stated")
            bits.append(f"{r['episode_id']}: {r['subject'][0].lower() + r['subject'][1:].rstrip('.')} ({where}; {r['claimant']})")
        eps = sorted(set(claims["episode_id"]))
        c.add("transponder-reported", "transponder off on crossings",
              f"Transponder off reported in {len(eps)} episodes",
              f"In {len(eps)} episodes a source reports the transponder off for part of the route: "
              + "; ".join(bits) + f". {on_crossing} of these claims are tied to a specific ocean crossing; the others do "
              "not say which leg." + (" No observed flight record of these crossings is in the evidence base."
                                      if c.t["core_gaps"].height == 0 else ""),
              "episodes_with_transponder_claims", len(eps), "episodes", eps,
              [f"core_claims:{x}" for x in claims["claim_id"]], _ids(claims["source_ids"]),
              weakest=min(len(c.origins(x)) for x in claims["source_ids"]),
              why="reported claims (EFE and others citing Flightradar24), not observed records")
    gaps = c.t["core_gaps"]
    for (ep,), g in gaps.group_by("episode_id", maintain_order=True):
        longest = g.sort("duration_min", descending=True).row(0, named=True)
        c.add(f"transponder-gaps-{ep}", "transponder gaps",
              f"{ep}: {g.height} gap(s) in observed coverage",
              f"Observed records of {ep} have {g.height} coverage gap(s); the longest lasted "
              f"{longest['duration_min'] / 60:,.1f} h and jumped {longest['jump_km']:,.0f} km.",
              "gap_count", g.height, "gaps", [ep], [f"core_gaps:{ep}"], "", confidence="moderate",
              why="observed flight records; a gap is a transponder off or a receiver out of range")


# --- timing against preceding, relevant events ----------------------------------------------------------------

def _timing(c: _Collector) -> None:
    events = c.t["core_events"].filter(pl.col("concerns").is_not_null() & pl.col("start_latest_utc").is_not_null())
    stops = c.main_stops()
    aircraft = c.t["core_aircraft"]
    for ep in c.summary["episode_id"].to_list():
        s = stops.filter(pl.col("episode_id") == ep).sort("aircraft_id", "seq")
        origin = s.filter((pl.col("role") == "origin") & pl.col("dep_earliest_utc").is_not_null()).sort("dep_earliest_utc")
        if origin.height == 0:
            continue
        dep = origin.row(0, named=True)
        ids = set(s["aircraft_id"]) | set(aircraft.filter(pl.col("aircraft_id").is_in(list(s["aircraft_id"])))["operator_id"].drop_nulls())
        countries = set(s["country"].drop_nulls()) - {"RU"}
        concern = countries | ids
        relevant = events.filter(pl.col("concerns").str.split(";").list.set_intersection(sorted(concern)).list.len() > 0)
        prior = relevant.filter((pl.col("start_latest_utc") <= dep["dep_earliest_utc"])
                                & (pl.col("start_earliest_utc") >= dep["dep_earliest_utc"] - TIMING_WINDOW)).sort("start_earliest_utc")
        if prior.height == 0:
            continue
        ev = prior.row(-1, named=True)
        low, high = _days(ev["start_latest_utc"], dep["dep_earliest_utc"]), _days(ev["start_earliest_utc"], dep["dep_latest_utc"])
        shared = sorted(set(ev["concerns"].split(";")) & concern)
        public = ""
        if ev["reported_on_earliest_utc"] is not None and ev["reported_on_earliest_utc"] > dep["dep_earliest_utc"]:
            public = f" It was made public only on {display(ev['reported_on_reported'])}, after the departure."
        lag = f"{low:,.0f} days" if round(low) == round(high) else f"{low:,.0f} to {high:,.0f} days"
        c.add(f"timing-{ep}", "timing against preceding events",
              f"{ep}: departed {lag} after '{ev['title']}'",
              f"{_label(c, dep['aircraft_id'])} left {dep['place_name']} on {display(dep['dep_reported'])}, {lag} after "
              f"the latest context event on record that certainly came before it and concerns the same countries or "
              f"actors ({', '.join(shared)}): "
              f"{ev['title']} ({display(ev['start_reported'])}).{public} Timing is shown, not cause.",
              "days_after_event", round((low + high) / 2, 2), "days", [ep],
              [f"core_events:{ev['event_id']}", f"core_stops:{dep['stop_id']}"], _ids([ev["source_ids"], dep["source_ids"]]),
              low=round(low, 2), high=round(high, 2), imprecise=dep["dep_precision"] not in ("minute", "second", "approx_hour"),
              why="only events within 90 days before the departure that share a country or actor are considered")


# --- recurring airframes and units, turnaround ----------------------------------------------------------------

def _recurring(c: _Collector) -> None:
    stops = c.main_stops()
    summary = c.summary.select("episode_id", "first_time_utc", "last_time_utc")
    aircraft = c.t["core_aircraft"]
    per = (stops.group_by("aircraft_id").agg(pl.col("episode_id").unique().alias("episodes"),
                                             pl.col("stop_id"), pl.col("source_ids"))
           .filter(pl.col("episodes").list.len() >= 2).sort("aircraft_id"))
    for r in per.iter_rows(named=True):
        ac = aircraft.filter(pl.col("aircraft_id") == r["aircraft_id"]).row(0, named=True)
        eps = summary.filter(pl.col("episode_id").is_in(r["episodes"])).sort("first_time_utc", nulls_last=True)
        dated = eps.filter(pl.col("first_time_utc").is_not_null())
        turns = []
        for a, b in zip(dated.iter_rows(named=True), list(dated.iter_rows(named=True))[1:], strict=False):
            if a["last_time_utc"] and b["first_time_utc"]:
                turns.append((a["episode_id"], b["episode_id"], _days(a["last_time_utc"], b["first_time_utc"])))
        listing = ", ".join(f"{e} ({c.when(e)})" for e in eps["episode_id"])
        turn = ("; ".join(f"about {d:,.0f} days from the last reported time of {a} to the first of {b}"
                          for a, b, d in turns if d > 0))
        unit = f" Unit: {ac['unit']}." if ac.get("unit") else ""
        c.add(f"recurring-airframe-{r['aircraft_id']}", "recurring airframes", f"{ac['label']} recurs in {eps.height} episodes",
              f"{ac['label']} ({ac['type_name']}, {ac['operator_name']}) appears in {eps.height} episodes: {listing}."
              + (f" Between trips (the time back home was at most this): {turn}." if turn else "") + unit,
              "episode_count", eps.height, "episodes", eps["episode_id"].to_list(),
              [f"core_stops:{s}" for s in r["stop_id"]], _ids(r["source_ids"]),
              why="identity by registration as reported; gaps between trips are upper bounds from reported times")


# --- dwell, similarity, directness, reported figures, observed ------------------------------------------------

def _dwell(c: _Collector) -> None:
    summary = c.summary.filter(pl.col("dest_dwell_max_h").is_not_null())
    stops = c.t["core_stops"]
    for r in summary.iter_rows(named=True):
        dest = stops.filter((pl.col("episode_id") == r["episode_id"]) & (pl.col("aircraft_id") == r["lead_aircraft_id"])
                            & pl.col("is_main_variant") & (pl.col("role") == "destination")).sort("seq").row(0, named=True)
        lo, hi, exact = r["dest_dwell_min_h"], r["dest_dwell_max_h"], r["dest_dwell_h"]
        text = (f"{exact:,.1f} hours" if exact is not None else f"between {lo:,.0f} and {hi:,.0f} hours "
                f"({lo / 24:,.1f} to {hi / 24:,.1f} days)")
        c.add(f"dest-dwell-{r['episode_id']}", "dwell at destination", f"{r['episode_id']}: {text} at {dest['place_name']}",
              f"In {r['episode_id']}, {r['lead_aircraft_label']} stayed at {dest['place_name']} for {text}: arrived "
              f"{display(dest['arr_reported'])}, left {display(dest['dep_reported'])}.",
              "dest_dwell_h", exact if exact is not None else (lo + hi) / 2, "hours", [r["episode_id"]],
              [f"core_stops:{dest['stop_id']}"], dest["source_ids"] or "", low=lo, high=hi,
              imprecise=exact is None)


def _similarity(c: _Collector) -> None:
    sim = c.t["out_route_similarity"].filter(pl.col("is_comparable"))
    if sim.height == 0:
        return
    eps = c.summary
    for r in sim.sort("similarity", descending=True).head(3).iter_rows(named=True):
        src = _ids(eps.filter(pl.col("episode_id").is_in([r["episode_a"], r["episode_b"]]))["source_ids"])
        order = (f"shared stops in the same order in {r['order_agreement']:.0%} of pairs" if r["order_agreement"] is not None
                 else f"order not compared ({r['order_note']})")
        c.add(f"route-similarity-{r['episode_a']}-{r['episode_b']}", "route similarity",
              f"{r['episode_a']} and {r['episode_b']} staged alike",
              f"{r['episode_a']} and {r['episode_b']} share {r['shared_country_count']} staging "
              f"{'country' if r['shared_country_count'] == 1 else 'countries'} "
              f"({r['shared_countries'].replace(';', ', ')}; overlap {r['country_jaccard']:.2f}); {order}; located staging "
              f"stops {r['mean_nearest_stop_km']:,.0f} km apart on average; legs located {r['located_share_a']:.0%} and "
              f"{r['located_share_b']:.0%}: similarity {r['similarity']:.2f} (0-1).",
              "route_similarity", round(r["similarity"], 3), "score (0-1)", [r["episode_a"], r["episode_b"]],
              [f"out_route_similarity:{r['episode_a']}|{r['episode_b']}"], src, inferred=True,
              why="a score of our own making over staging countries and located stops")


def _detour(c: _Collector) -> None:
    routes = c.t["out_route_summary"].filter(pl.col("is_main_variant") & (pl.col("evidence") == "reported")
                                             & pl.col("detour_factor").is_not_null() & (pl.col("outbound_staging_stops") >= 1))
    legs = c.t["core_legs"]
    for r in routes.sort("detour_factor", descending=True).iter_rows(named=True):
        mine = legs.filter((pl.col("episode_id") == r["episode_id"]) & (pl.col("aircraft_id") == r["aircraft_id"])
                           & (pl.col("variant") == "main"))
        inferred_order = bool(mine["is_order_inferred"].any())
        c.add(f"detour-{r['episode_id']}-{r['aircraft_id']}", "route directness",
              f"{r['episode_id']}: outbound {r['detour_factor']:.2f}x the direct distance",
              f"{_label(c, r['aircraft_id'])} flew {r['outbound_km']:,.0f} km great-circle from {r['origin']} to "
              f"{r['destination']} via {r['outbound_staging_stops']} staging stop(s), against {r['direct_km']:,.0f} km "
              f"direct: {r['detour_factor']:.2f} times." + (" The stop order is our inference, so this figure is too."
                                                             if inferred_order else ""),
              "detour_factor", round(r["detour_factor"], 3), "ratio", [r["episode_id"]],
              [f"out_route_summary:{r['episode_id']}|{r['aircraft_id']}|main"] + [f"core_legs:{x}" for x in mine["leg_id"]],
              _ids(mine["source_ids"]),
              inferred=bool(r["uses_inferred_places"]) or inferred_order)


def _reported_vs_geometry(c: _Collector) -> None:
    claims = c.t["core_claims"].filter((pl.col("kind") == "flight_distance") & pl.col("quantity").is_not_null()
                                       & pl.col("stop_id").is_not_null() & pl.col("from_stop_id").is_not_null())
    legs = c.t["core_legs"].filter(pl.col("distance_km").is_not_null())
    for r in claims.iter_rows(named=True):
        leg = legs.filter((pl.col("from_stop_id") == r["from_stop_id"]) & (pl.col("to_stop_id") == r["stop_id"]))
        if leg.height == 0:
            continue
        leg = leg.row(0, named=True)
        km = r["quantity"] * (1.852 if (r["unit"] or "").lower() in ("nm", "nmi") else 1.0)
        shorter = km < leg["distance_km"]
        c.add(f"reported-distance-{r['claim_id']}", "reported figures against geometry",
              f"{leg['from_name']} to {leg['to_name']}: reported figure {'disagrees with' if shorter else 'fits'} the geometry",
              f"{r['claimant']} gives {km:,.0f} km for {leg['from_name']} to {leg['to_name']} ({r['episode_id']}); the "
              f"great-circle distance is {leg['distance_km']:,.0f} km. "
              + ("No flight is shorter than the great circle: the reported figure and the geometry disagree (a rounded "
                 "figure, another route end, or an error)." if shorter else
                 "A flown path is at least the great circle, so the figures are consistent."),
              "reported_minus_great_circle_km", round(km - leg["distance_km"], 1), "km", [r["episode_id"]],
              [f"core_claims:{r['claim_id']}", f"core_legs:{leg['leg_id']}"], _ids([r["source_ids"], leg["source_ids"]]),
              inferred=leg["distance_basis"] == "inferred", disputed=shorter)


def _observed(c: _Collector) -> None:
    cmp_ = c.t["out_observed_vs_reported"]
    for (ep,), g in cmp_.group_by("episode_id", maintain_order=True):
        agree = g.filter(pl.col("status") == "agree").height
        c.add(f"observed-vs-reported-{ep}", "observed against reported",
              f"{ep}: {agree} of {g.height} stops agree",
              f"In {ep}, observed flight records and reports agree on {agree} of {g.height} stops; "
              f"{g.filter(pl.col('status') == 'time_differs').height} differ in time, "
              f"{g.filter(pl.col('status') == 'not_observed').height} reported stops were not observed and "
              f"{g.filter(pl.col('status') == 'not_reported').height} observed stops were not reported.",
              "stops_agreeing", agree, "stops", [ep], [f"out_observed_vs_reported:{ep}"],
              _ids(g["source_ids"]), confidence="moderate", why="observed records set against reports")


def _mark_key(df: pl.DataFrame) -> pl.DataFrame:
    """The index leads with the most important finding of each category, up to KEY_COUNT of them."""
    if df.height == 0:
        return df
    ranked = df.sort(["importance", "finding_id"], descending=[True, False])
    best = ranked.group_by("category", maintain_order=True).first().head(KEY_COUNT)
    return df.with_columns(pl.col("finding_id").is_in(best["finding_id"].to_list()).alias("is_key"))


def compute(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every finding, from the derived tables (see module docstring)."""
    c = _Collector(tables)
    for step in (_route_corridors, _atlantic_gateway, _range_test, _sanctioned_landings, _sanctions_at_flight_time,
                 _transponder, _timing, _recurring, _dwell, _similarity, _detour, _reported_vs_geometry, _observed):
        step(c)
    df = pl.DataFrame(c.rows, schema=FINDINGS_SCHEMA) if c.rows else pl.DataFrame(schema=FINDINGS_SCHEMA)
    return _mark_key(df)


def _first_sentence(text: str) -> str:
    cut = text.find(". ")
    return text if cut < 0 else text[: cut + 1]


def summarize(findings: pl.DataFrame, tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """``out_summary``: a short generated account of what the study shows, each sentence tied to its findings."""
    key = findings.filter(pl.col("is_key")).sort(["importance", "finding_id"], descending=[True, False])
    eps = tables["out_episode_summary"]
    src = tables["core_sources"]
    dated = eps.filter(pl.col("first_time_utc").is_not_null())
    rows = []
    if eps.height:
        first, last = dated["first_time_utc"].min(), dated["first_time_utc"].max()
        rows.append({"seq": 1, "sentence": (
            f"The study holds {eps.height} episodes"
            + (f" from {first.year} to {last.year}" if first is not None else "")
            + f", reported by {src.height} sources that go back to {src['origin_id'].n_unique()} independent origins; "
            f"{findings.height} findings are computed from them, {key.height} of which lead this summary."),
            "finding_ids": key["finding_id"].to_list()})
    for r in key.iter_rows(named=True):
        rows.append({"seq": len(rows) + 1,
                     "sentence": f"{_first_sentence(r['statement'])} (confidence {r['confidence']}; {r['likelihood']}.)",
                     "finding_ids": [r["finding_id"]]})
    return pl.DataFrame(rows, schema=SUMMARY_SCHEMA) if rows else pl.DataFrame(schema=SUMMARY_SCHEMA)
