# Two commands on a fresh machine: `make run` (set up, build the index, serve the app) and `make test`.
# Everything installs into a project virtualenv (.venv), so neither root nor a system-wide pip is needed:
# this works for any user and on a Python that refuses system-wide installs (PEP 668).
PYTHON ?= python3
VENV ?= .venv
PY = $(VENV)/bin/python
PIP = $(PY) -m pip install --quiet --disable-pip-version-check
# CPU torch, for sentence-transformers (the `st` extra) in the test install only; the default path needs no torch.
TORCH ?= torch==2.13.0

.PHONY: setup setup-test browser run test lint fix ingest bench eval

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps, so a second `make run` / `make test` starts at once; editing pyproject.toml reinstalls.
$(VENV)/.setup: pyproject.toml | $(PY)
	$(PIP) -e .
	@touch $@

# CPU torch first: otherwise sentence-transformers would pull the CUDA build.
$(VENV)/.setup-test: pyproject.toml | $(PY)
	$(PIP) $(TORCH)
	$(PIP) -e '.[test,st]'
	@touch $@ $(VENV)/.setup

setup: $(VENV)/.setup

setup-test: $(VENV)/.setup-test

# Headless Chromium and CJK fonts from Debian for the browser tests (Playwright's own download cannot work here).
# Installed with apt as root (CI); another user with both present goes on, without them is told what to run.
browser:
	@if command -v chromium >/dev/null && fc-list | grep -qi "noto.*cjk"; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else echo "the browser tests need Chromium and CJK fonts: as root, run 'apt-get install chromium fonts-noto-cjk'" >&2; \
	  exit 1; fi

run: setup
	$(PY) app.py

# pytest exits 5 when it collects no test; that is not a failure of the build.
test: setup-test browser
	$(PY) -m ruff check . && $(PY) -m ruff format --check .
	$(PY) -m pytest; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

lint:
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

fix:
	$(PY) -m ruff check --fix . && $(PY) -m ruff format .

ingest:
	$(PY) ingest.py

eval:
	$(PY) -m assistant eval

bench:
	$(PY) -m assistant bench
