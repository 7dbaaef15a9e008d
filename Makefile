# courtlink: the two commands are `make run` and `make test`; `make check` lints and types.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
# The project's own modules are cached as bytecode too (in __pycache__, ignored by git), for
# the same reason as the installed packages below.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test check install install-test browser pdf-libs cjk-fonts coturn serve demo migrate clean \
	cluster nginx bench-deps \
	fuzz soak axe screenshots fonts

# uv (from PyPI, into .tools/) makes the venv and installs into it: from its cache that takes
# seconds where pip took a minute, which is most of a first `make run`. The venv keeps pip.
UV := .tools/bin/uv
$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .tools 'uv>=0.5,<1'

$(BIN)/python: | $(UV)
	$(UV) venv --quiet --seed --python $(PYTHON) $(VENV)

# Installed packages are compiled to bytecode once, here (uv leaves them as source unless
# asked): where PYTHONDONTWRITEBYTECODE is set, as on this project's machines, every Python
# process would otherwise compile SQLAlchemy, aiohttp, aiortc... from source as it starts,
# ~7 s of CPU instead of ~3 s, for the server, each CLI command and each process a test starts.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test]'
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

# Debian's CJK fonts, for the test that a sealed document embeds the product's fonts alone
# even on a server that has its own (tests/test_agreement_fonts.py); documents never use them.
cjk-fonts:
	@[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || { \
	  echo "installing Debian's fonts-noto-cjk for the document font test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk) \
	    || { echo "could not install fonts-noto-cjk (need root and Debian's package index)"; exit 1; }; }

# Debian's coturn: the TURN server the bad-network test puts behind its impairment relay
# (tests/netimpair.py, tests/e2e/test_bad_network.py).
coturn:
	@command -v turnserver >/dev/null 2>&1 || { \
	  echo "installing Debian's coturn for the bad-network test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coturn) \
	    || { echo "could not install coturn (need root and Debian's package index)"; exit 1; }; }

# axe-core from the npm registry for the accessibility tests (tests/a11y/package.json and its
# lock), kept in the test tree and injected by the tests; the product never loads it.
AXE := tests/a11y/node_modules/axe-core/axe.min.js
$(AXE): tests/a11y/package.json tests/a11y/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "installing Debian's npm for axe-core"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm) \
	    || { echo "could not install npm (need root and Debian's package index)"; exit 1; }; }
	npm ci --prefix tests/a11y --no-audit --no-fund
	touch $@
axe: $(AXE)

migrate: install
	$(BIN)/courtlink migrate

demo: install
	$(BIN)/courtlink demo

# The CJK font the sealed PDFs embed (server.agreements.fonts), ~35 s of CPU, made once.
# `make run` never waits for it: `courtlink serve` makes it aside when it is missing.
FONTS_STAMP := var/fonts/.prepared
$(FONTS_STAMP): $(VENV)/.installed
	$(BIN)/courtlink agreements prepare-fonts
	touch $@
fonts: $(FONTS_STAMP)

# Three nodes and Debian's nginx as their front (server/cluster/local.py), on this machine's
# Redis and PostgreSQL: see the README's "Several nodes".
nginx:
	@command -v nginx >/dev/null 2>&1 || { \
	  echo "installing Debian's nginx for the cluster's front"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light) \
	    || { echo "could not install nginx (need root and Debian's package index)"; exit 1; }; }

# Debian's Janus for `bench/media.py --vs-janus` (its VideoRoom measured beside the SFU); the
# bench writes Janus's configuration itself and installs nothing. Not part of `make test`.
bench-deps:
	@command -v janus >/dev/null 2>&1 || { \
	  echo "installing Debian's janus for the side-by-side media bench"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq janus) \
	    || { echo "could not install janus (need root and Debian's package index)"; exit 1; }; }

cluster: install pdf-libs nginx
	$(BIN)/python -m server.cluster.local

# The links the demo prints and sends (the mediator's session, the parties' invitations by
# e-mail and SMS) name the address `make run` serves on, so that `make run PORT=8090` gives
# links that open; a COURTLINK_PUBLIC_URL in the environment or in .env still decides.
run: install pdf-libs
	@if [ -z "$${COURTLINK_PUBLIC_URL-}" ] && ! grep -qs '^COURTLINK_PUBLIC_URL=' .env; then \
	  export COURTLINK_PUBLIC_URL="http://$(HOST):$(PORT)"; fi; \
	set -x; \
	$(BIN)/courtlink migrate && \
	$(BIN)/courtlink demo && \
	COURTLINK_HELP_PHONE="$${COURTLINK_HELP_PHONE-0353-0000000}" \
	  exec $(BIN)/courtlink serve --host $(HOST) --port $(PORT)

# Three workers on two cores: much of the suite waits on real media, sockets and browsers, and
# each worker has its own databases (tests/conftest.py); each part lists its slowest tests.
# Four were a little faster, but their load made tests' own races show (bench/README.md).
# Then the few `serial` tests (real-time media that needs the CPU to itself), alone; one that
# takes over 38 s prints every thread's stack (not a failure): a wait that long is worth its
# dump (one caught a 40 s teardown this way: a lock left by a cancelled statement, bench/README.md).
# pytest's exit status 5 is "no test selected" (PYTEST_ARGS chose none of one kind): not a
# failure.
PYTEST_WORKERS ?= 3
test: install-test browser pdf-libs cjk-fonts coturn axe nginx
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not serial" --durations=25 $(PYTEST_ARGS) \
	  || [ $$? -eq 5 ]
	$(BIN)/python -m pytest -m serial --durations=10 -o faulthandler_timeout=38 $(PYTEST_ARGS) \
	  || [ $$? -eq 5 ]

# Every screen at 1366x768 and 375x812 on the demo seed, as PNGs in var/screenshots/
# (tests/e2e/screenshots.py): staff pages and a resident's path from pre-join to signed.
screenshots: install-test browser pdf-libs
	PYTHONPATH=bench $(BIN)/python -m tests.e2e.screenshots --out var/screenshots

# The long attack runs, outside `make test`. schemathesis against /api/v1/openapi.json as every
# role and anonymous, on SQLite and PostgreSQL, FUZZ_EXAMPLES inputs per operation and mode
# (the CI-sized run in `make test` uses 2); one JSON of figures per run in var/bench/fuzz/.
FUZZ_EXAMPLES ?= 25
# Random frame sequences against the signaling WebSocket (random, not derandomized; the
# CI-sized run in `make test` is 50 fixed examples).
SIGNALING_FUZZ_EXAMPLES ?= 1000
fuzz: install-test
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_FIGURES=var/bench/fuzz \
	  $(BIN)/python -m pytest tests/test_schemathesis.py -q $(PYTEST_ARGS)
	SIGNALING_FUZZ_EXAMPLES=$(SIGNALING_FUZZ_EXAMPLES) \
	  $(BIN)/python -m pytest tests/test_signaling_fuzz.py -q $(PYTEST_ARGS)

# The soak: SOAK_ROOMS rooms x SOAK_PEERS recorded aiortc peers for SOAK_MINUTES through the
# real server; JSON (rooms, peers, minutes, errors, rss_growth_mb, fd_growth,
# recordings_verified) in var/bench/soak.json; exits 1 when a target is missed.
SOAK_ROOMS ?= 10
SOAK_PEERS ?= 3
SOAK_MINUTES ?= 10
soak: install-test
	$(BIN)/python bench/soak.py --rooms $(SOAK_ROOMS) --peers $(SOAK_PEERS) \
	  --minutes $(SOAK_MINUTES) --json var/bench/soak.json

check: install-test
	$(BIN)/ruff check server signaling recordings tests bench
	$(BIN)/ruff format --check server signaling recordings tests bench
	$(BIN)/mypy server

clean:
	rm -rf $(VENV) .tools var .pytest_cache .mypy_cache .ruff_cache
