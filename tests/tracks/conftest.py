"""Fixtures: small generated traffic with known truth (generated into tmp dirs, never committed)."""

from __future__ import annotations

import pytest

from synth.tracks import generate


@pytest.fixture(scope="session")
def gen():
    """12 aircraft x 3 legs with planted gaps, mid-air starts/ends and noise."""
    return generate(12, 3, seed=11, noise_rate=0.004, p_start_airborne=0.25, p_end_airborne=0.25)


@pytest.fixture(scope="session")
def tree(gen, tmp_path_factory):
    """A readsb traces/ tree (gzip content, .json names) of the noisy positions."""
    from synth.tracks import write_readsb_tree

    root = tmp_path_factory.mktemp("readsb")
    write_readsb_tree(gen.positions, root)
    return root / "traces"


def one_aircraft(tbl, hexa):
    import pyarrow.compute as pc

    return tbl.filter(pc.equal(tbl.column("icao24"), hexa))
