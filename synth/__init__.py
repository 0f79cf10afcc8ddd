"""Synthetic data with known truth, for demos, tests and benchmarks (outside the ``analysis`` package, which never
imports it): :mod:`synth.tracks` (generated flights, readsb trees, OpenSky and FR24 files, and the observed-path
demo trace), :mod:`synth.globalday` (a generated global day archive for ``make discover``) and :mod:`synth.score`
(the observed path scored against the generator's truth). Deterministic for a seed."""
