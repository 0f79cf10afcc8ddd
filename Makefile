# Russian state flights to Latin America: reproducible study.  `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
UV := .tools/bin/uv
UV_VERSION := 0.13.8
ENV := .venv/.synced-stamp
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
# the environment's packages are compiled to bytecode once, at install: without it every process (each notebook
# kernel too) recompiles altair, polars... from source, seconds per start
export UV_COMPILE_BYTECODE := 1
# and the package's own modules are compiled once and kept (analysis/__pycache__, ignored by git), even where the
# shell says not to write bytecode: a command, a test's subprocess or a report kernel would otherwise compile them
# from source on every start (0.2 CPU-s a process)
export PYTHONDONTWRITEBYTECODE :=
# a recipe fails when any command of it fails (a pipeline too)
.SHELLFLAGS := -e -o pipefail -c

# Values given on the command line (make report COMPARE=..., make discover ARCHIVE=... ENGINE=... MASTER=...) are
# data, never make or shell code: each is taken literally ($(value), so a `$(shell ...)` in it is not expanded),
# exported, and read by the recipe as "$$NAME" (one argument, whatever quotes, ';', `$(...)` or spaces it holds).
# ARCHIVE is split on spaces into one argument per archive, without globbing or any other expansion.
COMPARE ?=
ARCHIVE ?=
ENGINE ?= local
MASTER ?= local[2]
override COMPARE := $(value COMPARE)
override ARCHIVE := $(value ARCHIVE)
override ENGINE := $(value ENGINE)
override MASTER := $(value MASTER)
export COMPARE ARCHIVE ENGINE MASTER

.PHONY: help env data validate report bench-report test test-quick test-profile screenshots lint fuzz soak bench lab accept-raw clean discover

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

$(UV):
	python3 -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(ENV): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --all-groups --quiet
	@touch $@

env: $(ENV) ## create .venv from uv.lock (Python 3.11 and the locked packages)

validate: $(ENV) ## check data/raw against the schema and provenance records (writes nothing)
	$(PY) -m analysis validate

data: $(ENV) ## build data/derived from data/raw (skips when nothing changed)
	$(PY) -m analysis build

report: $(ENV) ## build the data, run every notebook, write reports/ (COMPARE=a,b,c picks the compared episodes)
	$(PY) -m analysis report --compare "$$COMPARE"

bench-report: $(ENV) ## time a forced full report: per-page times, slowest cells, peak memory, load average
	$(PY) -m analysis report --force --bench --compare "$$COMPARE"

accept-raw: $(ENV) ## after reviewing a change to data/raw, record its checksums
	$(PY) -m analysis accept-raw

# the suite runs on TEST_WORKERS processes (pytest-xdist); tests/conftest.py (work_unit) keeps the tests that share
# the report, and each module's tests, on one worker. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder)

test: $(ENV) ## run the whole test suite (and the package's doctests) on TEST_WORKERS=2 processes
	$(PY) -m pytest -q $(XDIST)

test-quick: $(ENV) ## the inner loop: every test not marked slow (no full report, browser or Spark), stop at the first failure
	$(PY) -m pytest -q -x -m "not slow" $(XDIST)

test-profile: $(ENV) ## run the whole suite and list the 25 tests that take the most CPU seconds (and wall seconds)
	rm -f .build/test-cpu.tsv && mkdir -p .build
	rc=0; FLIGHTS_TEST_CPU=.build/test-cpu.tsv $(PY) -m pytest -q $(XDIST) || rc=$$?; \
	echo "test	wall_s	cpu_s"; sort -t$$'\t' -k3,3 -rn .build/test-cpu.tsv > .build/test-cpu-sorted.tsv; head -25 .build/test-cpu-sorted.tsv; \
	awk -F'\t' '{w+=$$2; c+=$$3; ww[$$4]+=$$2; cw[$$4]+=$$3} END {printf "all %d tests: wall %.0f s, CPU %.0f s\n", NR, w, c; \
		for (k in ww) printf "  worker %s: wall %.0f s, CPU %.0f s\n", k, ww[k], cw[k]}' .build/test-cpu.tsv; \
	exit $$rc

screenshots: $(ENV) ## full-page screenshots of every page of the test report, in .build/screenshots/ (to look at)
	FLIGHTS_SCREENSHOTS=1 $(PY) -m pytest -q -p no:cacheprovider tests/test_browser.py -k every_page -rP

lint: $(ENV) ## ruff check, ruff format --check and mypy (what .ci/run checks before the tests)
	$(PY) -m ruff check analysis synth bench tests
	$(PY) -m ruff format --check analysis synth bench tests
	$(PY) -m mypy

fuzz: $(ENV) ## property-based fuzzing (Hypothesis) with many more examples than `make test` runs
	FLIGHTS_FUZZ=fuzz $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz.py --hypothesis-show-statistics --durations=3

soak: $(ENV) ## the robustness tests at length: the kill test at 4x its kill points, then `make fuzz`
	FLIGHTS_KILL_ROUNDS=4 $(PY) -m pytest -q -p no:cacheprovider tests/test_atomic.py -k kill -rP
	$(MAKE) fuzz

bench: $(ENV) ## benchmark ingest and segmentation at 10 M and 100 M positions, and discovery
	$(PY) -m bench.tracks
	$(PY) -m bench.ingest_first_call
	$(PY) -m bench.discover

# make discover ARCHIVE="day1.tar day2.tar" [ENGINE=spark MASTER=local[2]]; without ARCHIVE a generated
# (synthetic) global day is used, so a newcomer sees the whole path work
DEMO_DAY := .build/discover/demo-day.tar
$(DEMO_DAY): synth/globalday.py analysis/discover/synthetic.py | $(ENV)
	$(PY) -m synth.globalday $@ --aircraft 300

discover: data $(if $(ARCHIVE),,$(DEMO_DAY)) ## find candidate flights in day archives: make discover ARCHIVE=day.tar [ENGINE=spark MASTER=URL]
	read -r -d "" -a archives <<< "$${ARCHIVE:-$(DEMO_DAY)}" || :; \
	$(PY) -m analysis discover "$${archives[@]}" --engine "$$ENGINE" \
		$(if $(filter spark,$(ENGINE)),--master "$$MASTER")

# make lab LAB_ARGS="--port 8899 --no-browser" passes options to JupyterLab
LAB_ARGS ?=
lab: $(ENV) ## open JupyterLab with the package importable (options: LAB_ARGS="--port 8899 --no-browser")
	$(PY) -m jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

clean: ## remove derived data, reports and build scratch (never data/raw)
	rm -rf data/derived/builds data/derived/current data/derived/positions .build reports
