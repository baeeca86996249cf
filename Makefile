# contrib_awsstorage: every target sets up what it needs on a fresh clone.
#   make demo   - an Evennia game with its web side on the embedded S3 server
#                 (DEMO_ARGS=--check: start, verify, reload, verify, stop)
#   make test   - ruff (format and lint), then the whole test suite on every
#                 stack of the matrix below
#   make lint   - ruff only (make format rewrites the files)
#   make test-STACK - one stack only (e.g. make test-py312-django61)
#   make bench  - the benchmarks in bench/ (installs the bench extra)
#   make soak   - the long reliability runs
#   make webclient-assets - the website's/webclient's JS and CSS libraries
#                 from npm (demo/vendor/), served by the demo game from S3

VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# Debian packages the test suite needs (headless browser for end-to-end tests).
DEBIAN_TEST_PACKAGES ?= chromium
# Debian packages the benchmarks use (rclone: bench/reload_collectstatic_bench.py; wrk: bench/portal_bench.py).
DEBIAN_BENCH_PACKAGES ?= rclone wrk
DEMO_ARGS ?=

# -- interpreters -------------------------------------------------------------
# The newest CPython X.Y installed by pyenv (~/.pyenv/versions/X.Y.N), else
# pythonX.Y on PATH; empty when there is none (the venv rule then says so).
PYENV_ROOT ?= $(HOME)/.pyenv
find_python = $(or $(lastword $(shell ls -d $(PYENV_ROOT)/versions/$(1).*/bin/python 2>/dev/null \
    | grep -E '/$(subst .,\.,$(1))\.[0-9]+/bin/python$$' | sort -V)),$(shell command -v python$(1) 2>/dev/null))
PYTHON311 ?= $(call find_python,3.11)
PYTHON312 ?= $(call find_python,3.12)
PYTHON313 ?= $(call find_python,3.13)

# -- the matrix -----------------------------------------------------------------
# One venv per stack that users run; setup.cfg declares what these prove.
#   py311-evennia50  Python 3.11, Evennia 5.0 (Django 5.2, Twisted 24.11)   .venv, also make demo/bench
#   py312-evennia61  Python 3.12, Evennia 6.1 (Django 6.0, Twisted 24.11)
#   py313-evennia61  Python 3.13, Evennia 6.1
#   py312-django61   Python 3.12, Django 6.1, Twisted 26, no Evennia: a plain
#                    Django site (`pip install . 'django>=6.1' 'twisted>=26'`);
#                    tests marked `evennia` are left out, with their reason
STACKS := py311-evennia50 py312-evennia61 py313-evennia61 py312-django61

venv_of = $(if $(filter py311-evennia50,$(1)),$(VENV),.venv-$(1))

# Per stack: its interpreter; the setup.cfg extras and pins its venv gets first
# (all stacks at once: downloads are most of the time); then how the project
# itself is installed (one stack at a time: building it writes into the tree);
# what the venv must then hold (tools/stack_report.py checks it); whether
# Evennia is in it; and what its pytest run leaves out, and why.
PYTHON_py311-evennia50  := $(PYTHON311)
EXTRAS_py311-evennia50  := test evennia
PINS_py311-evennia50    := 'evennia~=5.0.0'
INSTALL_py311-evennia50 := -e '.[test,evennia]' 'evennia~=5.0.0'
EXPECT_py311-evennia50  := python=3.11 evennia=5.0 django=5.2 twisted=24
EVENNIA_py311-evennia50 := 1

PYTHON_py312-evennia61  := $(PYTHON312)
EXTRAS_py312-evennia61  := test evennia
PINS_py312-evennia61    := 'evennia~=6.1.0'
INSTALL_py312-evennia61 := -e '.[test,evennia]' 'evennia~=6.1.0'
EXPECT_py312-evennia61  := python=3.12 evennia=6.1 django=6.0 twisted=24
EVENNIA_py312-evennia61 := 1
# Time (the whole matrix has 30 minutes on 2 cores): what this stack adds is
# Evennia 6.1 on Python 3.12, so it runs what touches Evennia, Django or
# Twisted. Left out: the load, drain and fault runs of tests/reliability (our
# web layer and sync engine, not Evennia: Twisted 24.11 on 3.11, Twisted 26 in
# the Django 6.1 stack); the storage, sync and set-up layers, which import
# neither Evennia nor Twisted (tests/test_layers.py): they run with Django 6.0
# on 3.13 and on 3.12 in the Django 6.1 stack; and the demo, which `make demo`
# runs on the 3.11 venv only.
SKIP_py312-evennia61    := --ignore=tests/reliability --ignore=tests/sync --ignore=tests/s3 \
                           --ignore=tests/provision --ignore=tests/test_demo.py

PYTHON_py313-evennia61  := $(PYTHON313)
EXTRAS_py313-evennia61  := test evennia
PINS_py313-evennia61    := 'evennia~=6.1.0'
INSTALL_py313-evennia61 := -e '.[test,evennia]' 'evennia~=6.1.0'
EXPECT_py313-evennia61  := python=3.13 evennia=6.1 django=6.0 twisted=24
EVENNIA_py313-evennia61 := 1
# Time (the whole matrix has 30 minutes on 2 cores): the timing-heavy fault,
# drain and load runs and the real-game runs (reloads, browser), whose code
# paths do not depend on the Python version, run on the 3.11 and 3.12 stacks
# (Evennia 6.1 on 3.12), and the demo on the 3.11 venv `make demo` uses; the
# rest, the in-game command tests included, runs here.
SKIP_py313-evennia61    := --ignore=tests/reliability --ignore=tests/e2e --ignore=tests/test_demo.py
# What is left times nothing and starts no game, so it runs on both cores
# (pytest-xdist): 139 s instead of 265 s on 2 cores.
PARALLEL_py313-evennia61 := -n 2

# exactly what a plain Django 6.1 site installs; then made editable for the tests
PYTHON_py312-django61   := $(PYTHON312)
EXTRAS_py312-django61   := test
PINS_py312-django61     := 'django>=6.1' 'twisted>=26'
INSTALL_py312-django61  := '.[test]' 'django>=6.1' 'twisted>=26'
EXPECT_py312-django61   := python=3.12 evennia=absent django=6.1 twisted=26
EVENNIA_py312-django61  :=

# $(1) stack, $(2) its venv
define STACK
$(2)/.stamp-deps: setup.cfg pyproject.toml
	@test -n "$$(PYTHON_$(1))" || { echo "error: stack $(1) needs Python $(subst py3,3.,$(firstword $(subst -, ,$(1)))), not found in $(PYENV_ROOT)/versions/ nor on PATH (pyenv install it, or set PYTHON$(subst py,,$(firstword $(subst -, ,$(1))))=/path/to/python)" >&2; exit 1; }
	test -x $(2)/bin/python || $$(PYTHON_$(1)) -m venv $(2)
	$(2)/bin/python -m pip install -q --upgrade pip setuptools wheel
	$(2)/bin/python tools/requirements_of.py $$(EXTRAS_$(1)) > $(2)/requirements.txt
	$(2)/bin/python -m pip install -q -r $(2)/requirements.txt $$(PINS_$(1))
	touch $$@

$(2)/.stamp-base: $(2)/.stamp-deps
	$(2)/bin/python -m pip install -q $$(INSTALL_$(1))
	$(if $(EVENNIA_$(1)),,$(2)/bin/python -m pip install -q --no-deps -e .)
	$(2)/bin/python tools/stack_report.py --expect $$(EXPECT_$(1))
	touch $$@

deps-$(1): $(2)/.stamp-deps
venv-$(1): $(2)/.stamp-base
.PHONY: deps-$(1) venv-$(1) test-$(1)

test-$(1): $(2)/.stamp-base debian-test-deps
	@printf '== stack $(1): '; $(2)/bin/python tools/stack_report.py --expect $$(EXPECT_$(1))
	@$(if $(SKIP_$(1)),echo "   left out on this stack: $(SKIP_$(1))")
	@start=$$$$(date +%s); \
	$(2)/bin/python -m pytest -p no:cacheprovider --durations=15 $$(PARALLEL_$(1)) $$(SKIP_$(1)) && \
	$(if $(EVENNIA_$(1)),$(2)/bin/python -m pytest -p no:cacheprovider --ds=tests.ingame.settings tests/ingame &&,echo "tests/ingame needs Evennia: left out on this stack" &&) \
	echo "== stack $(1): passed in $$$$(( $$$$(date +%s) - start )) s"
endef
$(foreach s,$(STACKS),$(eval $(call STACK,$(s),$(call venv_of,$(s)))))

.PHONY: lint format test-npm-packages venv venvs test demo demo-storage bench soak clean debian-test-deps webclient-assets

$(VENV)/.stamp-bench: $(VENV)/.stamp-base
	$(PIP) install -q -e '.[test,evennia,bench]' 'evennia~=5.0.0'
	touch $@

venv: $(VENV)/.stamp-base
venvs: $(addprefix deps-,$(STACKS))
	$(MAKE) --no-print-directory $(addprefix venv-,$(STACKS))

# npm ci writes node_modules/.package-lock.json: redone when the lock changes
WEBCLIENT_ASSETS := demo/vendor/node_modules/.package-lock.json
$(WEBCLIENT_ASSETS): demo/vendor/package.json demo/vendor/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js with npm (the demo's webclient libraries come from the npm registry)"; exit 1; }
	cd demo/vendor && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

webclient-assets: $(WEBCLIENT_ASSETS)

# s3rver, a second S3 implementation (tests/provision: the steps a store lacks)
S3RVER := tests/provision/s3rver/node_modules/.package-lock.json
$(S3RVER): tests/provision/s3rver/package.json tests/provision/s3rver/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js with npm (s3rver comes from the npm registry)"; exit 1; }
	cd tests/provision/s3rver && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

test-npm-packages: $(S3RVER)

debian-test-deps:
	@if [ -n "$(DEBIAN_TEST_PACKAGES)" ]; then \
	  missing=""; for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	fi

# ruff, as pinned in the test extra: one formatting and one lint for the tree
lint: $(VENV)/.stamp-deps
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(VENV)/.stamp-deps
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The whole matrix: every stack's downloads at once, then the stacks' tests one
# after another (the reliability and drain tests time things; two stacks side
# by side on 2 cores would make them flaky).
test: webclient-assets test-npm-packages
	@start=$$(date +%s); $(MAKE) --no-print-directory -j4 -O $(addprefix deps-,$(STACKS)) && \
	echo "== venvs ready in $$(( $$(date +%s) - start )) s"
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory $(addprefix test-,$(STACKS))

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
	rm -rf $(VENV) $(addprefix .venv-,$(STACKS)) build dist *.egg-info .pytest_cache
