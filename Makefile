# The two commands: `make run` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export ONSCREEN_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: run test install db demo serve clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres,load]'
	touch $@

install: $(VENV)/.installed

# A development secret is made once and kept in instance/ (never committed).
$(ONSCREEN_INSTANCE_PATH)/secret_key:
	mkdir -p $(ONSCREEN_INSTANCE_PATH)
	$(PYTHON) -c "import secrets; print(secrets.token_hex(32))" > $@

db: install $(ONSCREEN_INSTANCE_PATH)/secret_key
	ONSCREEN_SECRET_KEY=$$(cat $(ONSCREEN_INSTANCE_PATH)/secret_key) $(BIN)/onscreen db upgrade
	ONSCREEN_SECRET_KEY=$$(cat $(ONSCREEN_INSTANCE_PATH)/secret_key) $(BIN)/onscreen bank load item_banks

demo: db
	ONSCREEN_SECRET_KEY=$$(cat $(ONSCREEN_INSTANCE_PATH)/secret_key) $(BIN)/onscreen demo

run: demo
	@echo ""
	@echo "Candidates: http://$(HOST):$(PORT)/start    Staff: http://$(HOST):$(PORT)/staff/login"
	@echo "The sweeper finishes timed-out attempts every 5 s beside the server."
	ONSCREEN_SECRET_KEY=$$(cat $(ONSCREEN_INSTANCE_PATH)/secret_key) ONSCREEN_BIND=$(HOST):$(PORT) \
		$(BIN)/onscreen serve

# The browser tests (tests/browser) drive Debian's Chromium; Playwright never downloads a browser.
.PHONY: browser browser-test
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; fi

browser-test: install browser
	ONSCREEN_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests/browser

# pytest's exit code 5 (no tests collected) fails like any other failure.
test: install
	$(BIN)/python -m pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; fi; exit $$status

# Load tests (docs/load-testing.md, figures in docs/performance.md). DB=sqlite|postgres.
DB ?= sqlite
.PHONY: loadtest-smoke loadtest-examday loadtest-capacity loadtest-ceiling
loadtest-smoke: install
	$(BIN)/python -m pytest -q tests/test_loadtest_smoke.py
loadtest-examday: install
	loadtests/measure.sh examday $(DB)
loadtest-capacity: install
	loadtests/measure.sh capacity $(DB)
loadtest-ceiling: install
	loadtests/measure.sh ceiling

# Reliability (docs/reliability.md): faults injected under load, every acknowledged save
# reconciled with the database. PostgreSQL runs use RELIABILITY_PG_URL (a database of their own,
# dropped and made again) and, for the restart, a throwaway PostgreSQL on port 5499.
RELIABILITY_MINUTES ?= 5
RELIABILITY_CANDIDATES ?= 20
RELIABILITY_RUN = $(BIN)/python loadtests/reliability_run.py
.PHONY: reliability-crash reliability-soak
reliability-crash: install
	$(RELIABILITY_RUN) crash --db sqlite --minutes $(RELIABILITY_MINUTES) --candidates $(RELIABILITY_CANDIDATES)
	$(RELIABILITY_RUN) crash --db postgresql --minutes $(RELIABILITY_MINUTES) --candidates $(RELIABILITY_CANDIDATES)
	$(RELIABILITY_RUN) pg-restart --minutes $(RELIABILITY_MINUTES) --candidates $(RELIABILITY_CANDIDATES) --every 15
	$(RELIABILITY_RUN) conn-loss --minutes 3 --candidates $(RELIABILITY_CANDIDATES) --every 1
reliability-soak: install
	$(RELIABILITY_RUN) soak --db sqlite --minutes 45 --candidates $(RELIABILITY_CANDIDATES) --pause 1 --every 10

# Security suite (docs/security.md): `make test` runs it quickly; this runs the long counts
# (10,000 keycode guesses, ten times the fuzzed posts) and writes instance/security-figures.json.
.PHONY: security-long
security-long: install
	ONSCREEN_SECURITY_LONG=1 $(BIN)/python -m pytest -q -o timeout=3600 tests/test_security_*.py
	@cat $(ONSCREEN_INSTANCE_PATH)/security-figures.json

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
