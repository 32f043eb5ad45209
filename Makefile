# Two commands on a fresh machine: `make run` (set up, build the index, serve the app) and `make test`.
PY ?= python3
PIP = $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: setup setup-test browser run test lint fix ingest bench eval

# CPU torch first, from the local wheel: otherwise sentence-transformers would pull the CUDA build.
setup:
	$(PIP) torch==2.13.0
	$(PIP) -e .

setup-test: setup
	$(PIP) -e '.[test]'

# Headless Chromium and CJK fonts from Debian for the browser tests (Playwright's own download cannot work here).
browser:
	@command -v chromium >/dev/null && fc-list | grep -qi "noto.*cjk" || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)

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
