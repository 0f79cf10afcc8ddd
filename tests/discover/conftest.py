"""Fixtures: one small generated global day (a few hundred aircraft) with its truth, and the reported
episodes of a private build of the study."""

from __future__ import annotations

import pytest

from analysis.discover import reported_windows
from synth.globalday import generate_day


@pytest.fixture(scope="session")
def day(tmp_path_factory):
    """120 ordinary aircraft, 8 RA- domestic decoys, 5 planted trips of interest (one on a reported episode)."""
    return generate_day(tmp_path_factory.mktemp("day") / "day.tar", n_aircraft=120, seed=3)


@pytest.fixture(scope="session")
def reported(built_project):
    return reported_windows(built_project)
