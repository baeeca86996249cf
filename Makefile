# contrib_awsstorage: every target sets up what it needs on a fresh clone.
#   make demo   - an Evennia game with its web side on the embedded S3 server
#                 (DEMO_ARGS=--check: start, verify, reload, verify, stop)
#   make test   - the whole test suite
#   make bench  - the benchmarks in bench/ (installs the bench extra)
#   make soak   - the long reliability runs
#   make webclient-assets - the website's/webclient's JS and CSS libraries
#                 from npm (demo/vendor/), served by the demo game from S3

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# Debian packages the test suite needs (headless browser for end-to-end tests).
DEBIAN_TEST_PACKAGES ?= chromium
# Debian packages the benchmarks compare with (rclone: bench/reload_collectstatic_bench.py).
DEBIAN_BENCH_PACKAGES ?= rclone
DEMO_ARGS ?=

.PHONY: venv test demo demo-storage bench soak clean debian-test-deps webclient-assets

$(VENV)/.stamp-base: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -e '.[test]'
	touch $@

$(VENV)/.stamp-bench: $(VENV)/.stamp-base
	$(PIP) install -q -e '.[test,bench]'
	touch $@

venv: $(VENV)/.stamp-base

# npm ci writes node_modules/.package-lock.json: redone when the lock changes
WEBCLIENT_ASSETS := demo/vendor/node_modules/.package-lock.json
$(WEBCLIENT_ASSETS): demo/vendor/package.json demo/vendor/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js with npm (the demo's webclient libraries come from the npm registry)"; exit 1; }
	cd demo/vendor && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

webclient-assets: $(WEBCLIENT_ASSETS)

debian-test-deps:
	@if [ -n "$(DEBIAN_TEST_PACKAGES)" ]; then \
	  missing=""; for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	fi

test: venv debian-test-deps webclient-assets
	$(PY) -m pytest
	$(PY) -m pytest --ds=tests.ingame.settings tests/ingame

demo: venv webclient-assets
	$(PY) demo/game_demo.py $(DEMO_ARGS)

demo-storage: venv
	$(PY) demo/storage_demo.py $(DEMO_ARGS)

# long reliability runs: 2,000-file sync under faults, kill -9 convergence,
# 50 drain/reload cycles under load (about 7 minutes)
soak: venv
	$(PY) -m pytest tests/reliability -m soak -s -q

bench: $(VENV)/.stamp-bench
	@$(MAKE) --no-print-directory debian-test-deps DEBIAN_TEST_PACKAGES="$(DEBIAN_BENCH_PACKAGES)"
	@for b in bench/*_bench.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
