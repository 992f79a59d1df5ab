# gridmap: the README's two commands and their set-up.
#   make demo   set up, start the embedded PostGIS, load the small demo city, serve :8050
#   make test   set up and run the whole test suite
#   make test-pooled   the same through pgbouncer (transaction mode): the `pooled` tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_PACKAGES := postgresql-15 postgresql-15-postgis-3 fonts-noto-cjk python3-venv
TEST_PACKAGES := chromium chromium-driver gdal-bin pgbouncer haproxy
# Benchmarks only (never `make test`): pgRouting is a peer in bench-circles.
BENCH_PACKAGES := postgresql-15-pgrouting

.PHONY: demo test test-pooled setup setup-test setup-bench packages lint vendor-plotly bench-load bench-circles clean

demo: setup
	$(BIN)/gridmap db start
	$(BIN)/gridmap db upgrade
	$(BIN)/gridmap demo --scale small --if-empty
	$(BIN)/gridmap serve

test: setup setup-test
	$(BIN)/python -m pytest

# The suite through pgbouncer in transaction mode: the tests marked `pooled` (every database
# access path), their databases made and used through it. The whole suite:
#   make test-pooled POOLED_ARGS="--deselect tests/gridmap/cases/test_notify.py"
# (that test LISTENs, which needs a direct connection).
POOLED_ARGS ?= -m pooled
test-pooled: setup setup-test
	$(BIN)/gridmap db start --pgbouncer
	GRIDMAP_DATABASE_URL="$$($(BIN)/gridmap db url --pooled)" $(BIN)/python -m pytest $(POOLED_ARGS)

setup:
	@$(MAKE) --no-print-directory packages PACKAGES="$(RUNTIME_PACKAGES)"
	@$(MAKE) --no-print-directory $(VENV)/.installed

setup-test:
	@$(MAKE) --no-print-directory packages PACKAGES="$(TEST_PACKAGES)"

# Installs missing Debian packages with apt-get when root; otherwise names them and stops.
packages:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  else \
	    echo "gridmap needs these Debian packages:$$missing"; \
	    echo "install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "cannot create a virtualenv: install python3-venv (sudo apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# plotly.js's "map" partial bundle, the version the plotly package ships (committed; run
# after upgrading plotly: tests/gridmap/web/test_delivery.py checks the versions agree).
vendor-plotly: setup
	v=$$($(BIN)/python -c "import plotly,pathlib,re;print(re.search(r'v([\d.]+)',(pathlib.Path(plotly.__file__).parent/'package_data/plotly.min.js').read_text()[:200]).group(1))") && \
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack -q plotly.js@$$v >/dev/null && tar -xzf plotly.js-$$v.tgz package/dist/plotly-map.min.js) && \
	cp $$tmp/package/dist/plotly-map.min.js gridmap/web/vendor/ && rm -rf $$tmp

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench-load: setup
	$(BIN)/python benchmarks/bench_demo_load.py --scale city

setup-bench:
	@$(MAKE) --no-print-directory packages PACKAGES="$(BENCH_PACKAGES)"

# Service circles at city scale vs networkx and pgRouting (skipped when it is missing).
bench-circles: setup setup-bench
	$(BIN)/python benchmarks/citydb.py
	$(BIN)/python benchmarks/bench_isochrones.py

clean:
	-$(BIN)/gridmap db stop
	rm -rf $(VENV) .gridmap
