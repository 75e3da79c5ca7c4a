# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/checkpoint.toml

.PHONY: install run test lint bench clean

install: $(BIN)/checkpoint config/demo/trustlist.json

$(BIN)/checkpoint: pyproject.toml requirements.lock
	scripts/install.sh "$(PYTHON)" "$(VENV)"
	@touch $@

config/demo/trustlist.json: $(BIN)/checkpoint scripts/make_demo.py
	$(BIN)/python scripts/make_demo.py config/demo

run: install
	scripts/run-local.sh $(CONFIG)

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/checkpoint bench

clean:
	rm -rf $(VENV) config/demo .run build *.egg-info
