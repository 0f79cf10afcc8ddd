"""The benchmarks (``make bench``), outside the ``analysis`` package: ``python -m bench.tracks`` (ingest,
segmentation, accuracy), ``python -m bench.ingest_first_call`` (the first observed-path call in a fresh process),
``python -m bench.discover`` (discovery) and ``python -m bench.discover_engine STORE`` (one engine by hand). Their
generated inputs come from :mod:`synth`; results go to ``bench/out/`` (gitignored). See ``bench/README.md``."""
