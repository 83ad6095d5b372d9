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

# pytest's exit code 5 (no tests collected) fails like any other failure.
test: install
	$(BIN)/python -m pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; fi; exit $$status

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
