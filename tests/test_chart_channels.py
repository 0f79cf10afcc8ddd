"""charts._channels: encodings handed to altair as channel objects give the same spec as the shorthand strings
and value dicts they replace (view names included: altair derives them from the channels' text)."""

from __future__ import annotations

import altair as alt
import polars as pl

from analysis.charts import _channels


def _layered(channels: bool) -> dict:
    df = pl.DataFrame({"lon": [1.0, 2.0], "lat": [3.0, 4.0], "name": ["a", "b"], "seq": [1, 2]})
    pick = alt.selection_point(name="pick", fields=["name"], on="click", empty=False)
    enc = {"longitude": "lon:Q", "latitude": "lat:Q", "order": "seq:Q", "size": alt.value(70)}
    text = {"longitude": "lon:Q", "latitude": "lat:Q", "text": "name:N"}
    cond = {"stroke": alt.condition(pick, alt.value("#000000"), alt.value(None))}
    wrap = _channels if channels else (lambda **kw: kw)
    points = alt.Chart(df).mark_point().encode(**wrap(**enc, **cond)).add_params(pick)
    labels = alt.Chart(df).mark_text().encode(**wrap(**text))
    return alt.layer(points, labels).to_dict()


def test_channel_objects_give_the_spec_of_the_shorthands() -> None:
    assert _layered(channels=True) == _layered(channels=False)


def test_channels_converts_strings_and_plain_values_and_passes_the_rest() -> None:
    out = _channels(x="a:Q", size={"value": 3}, tooltip=[alt.Tooltip("a:Q")], color=alt.Color("b:N"))
    assert isinstance(out["x"], alt.X) and out["x"].to_dict() == {"field": "a", "type": "quantitative"}
    assert isinstance(out["size"], alt.SizeValue) and out["size"].to_dict() == {"value": 3}
    assert isinstance(out["tooltip"], list) and isinstance(out["color"], alt.Color)
    cond = alt.condition(alt.param(name="p"), alt.value(1), alt.value(2))
    assert _channels(size=cond)["size"] is cond  # a condition is left to altair
