# Freezer: two commands set everything up on a fresh machine.
#   make demo   a real full + incremental backup and a byte-identical restore
#   make test   the whole suite, starting every server it needs
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PLUGINS := $(sort $(dir $(wildcard plugins/*/*/pyproject.toml)))
STAMP  := $(VENV)/.installed

.PHONY: install demo demo-stop test lint clean system-deps

install: $(STAMP)

$(STAMP): pyproject.toml $(addsuffix pyproject.toml,$(PLUGINS)) requirements-test.txt
	@bash scripts/system-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[service]' $(addprefix -e ,$(PLUGINS)) -r requirements-test.txt
	@touch $@

demo: install demo-stop
	$(BIN)/python scripts/demo.py

demo-stop:
	@for f in demo-out/freezer-scheduler.pid demo-out/freezer-api.pid; do \
	  [ -f $$f ] && kill $$(cat $$f) 2>/dev/null; rm -f $$f; done; true

test: install lint
	scripts/run-tests $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check freezer_core freezer_cli freezer_service plugins tests scripts docs/examples

clean:
	rm -rf $(VENV) .venv-upstream .pytest_cache .hypothesis demo-out
