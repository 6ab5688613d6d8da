# Two commands for a fresh machine: `make start` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install start stop status test lint coverage-matrix bench screenshots notebook-check clean

$(BIN)/cp4cds-wps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,notebooks]"
	@command -v cdo >/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && apt-get install -y -qq cdo; } || \
		echo "cdo not installed: regridding curvilinear and rotated-pole grids will be refused"
	touch $@

install: $(BIN)/cp4cds-wps

## start the service in the foreground on http://127.0.0.1:5000/wps (the test archive)
start: install
	$(BIN)/cp4cds-wps start

stop:
	$(BIN)/cp4cds-wps stop

status:
	$(BIN)/cp4cds-wps status

## run the linters and the whole test suite (listing its 20 slowest steps)
test: install lint
	$(BIN)/python -m pytest --durations=20

## the whole coverage matrix (every dataset x every operation, the cells of pytest -m matrix):
## its table in docs/coverage.md; fails when a cell fails
coverage-matrix: install
	$(BIN)/python -m tests.coverage.report --out docs/coverage.md

lint: install
	$(BIN)/ruff check cp4cds_wps tests benchmarks
	$(BIN)/ruff format --check cp4cds_wps tests benchmarks

## benchmark time and peak memory of each operation against clisops and CDO, on >= 4 GB of
## synthetic data in var/bench (generated once) and on datasets of the archive; a quick run
## (the smoke test's): make bench BENCH_ARGS="--size-gb 0.3 --quick"
bench: install
	command -v cdo >/dev/null || apt-get install -y cdo
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

## the catalogue's screenshots in docs/images, taken by its browser tests (headless Chromium)
screenshots: install
	CP4CDS_WPS_SCREENSHOTS=$(CURDIR)/docs/images $(BIN)/python -m pytest -q \
		tests/integration/test_catalogue_browser.py
	@ls docs/images/catalogue-*.png

clean:
	rm -rf var
