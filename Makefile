# borderwatch: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench venv clean fonts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP) fonts
	$(BIN)/borderwatch demo $(ARGS)

test: $(STAMP) fonts
	QT_QPA_PLATFORM=offscreen NUMBA_CACHE_DIR=$(CURDIR)/.numba_cache $(BIN)/python -m pytest -q tests $(PYTEST_ARGS)

# A CJK font for Chinese report plots (and console screenshots): installed when missing, best effort;
# without it Chinese reports keep English plot labels. Never fails the build.
fonts:
	@fc-list :lang=zh family 2>/dev/null | grep -q . || \
	  (apt-get install -y --no-install-recommends fonts-noto-cjk >/dev/null 2>&1 || \
	   sudo -n apt-get install -y --no-install-recommends fonts-noto-cjk >/dev/null 2>&1) || \
	  echo "note: no CJK font installed (Debian: apt-get install fonts-noto-cjk); Chinese plots use English labels"

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache
