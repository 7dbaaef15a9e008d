# courtlink: the two commands are `make run` and `make test`; `make check` lints and types.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test check install install-test browser pdf-libs serve demo migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Debian's Chromium and Firefox ESR for the browser tests (never a browser download by a
# test tool): the session client must work in both. Xvfb gives Firefox a screen to share.
browser:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v firefox-esr >/dev/null 2>&1 || missing="$$missing firefox-esr"; \
	command -v Xvfb >/dev/null 2>&1 || missing="$$missing xvfb"; \
	[ -z "$$missing" ] || { \
	  echo "installing Debian's$$missing for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) \
	    || { echo "could not install$$missing (need root and Debian's package index)"; exit 1; }; }

# Pango for WeasyPrint (sealed agreement PDFs); on the project's Debian image already, so
# this installs only where it is missing. The CJK font itself comes from PyPI.
pdf-libs:
	@ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || { \
	  echo "installing Pango for WeasyPrint"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0) \
	    || { echo "could not install Pango (need root and Debian's package index)"; exit 1; }; }

migrate: install
	$(BIN)/courtlink migrate

demo: install
	$(BIN)/courtlink demo

run: install pdf-libs
	$(BIN)/courtlink migrate
	$(BIN)/courtlink demo
	$(BIN)/courtlink agreements prepare-fonts
	$(BIN)/courtlink serve --host $(HOST) --port $(PORT)

test: install-test browser pdf-libs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: install-test
	$(BIN)/ruff check server signaling recordings tests bench
	$(BIN)/ruff format --check server signaling recordings tests bench
	$(BIN)/mypy server

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
