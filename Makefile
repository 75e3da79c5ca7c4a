# Two commands do everything on a fresh machine: `make run` and `make test`.
# The first of Python 3.11, 3.12, 3.13 that runs here (3.11 is what CI runs; a Raspberry
# Pi OS 13 machine has only 3.13); `make test PYTHON=python3.13` picks one.
PYTHON ?= $(or $(firstword $(foreach p,python3.11 python3.12 python3.13,\
            $(shell $(p) -c '' 2>/dev/null && echo $(p)))),python3)
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/checkpoint.toml
# The Python 3.13 smoke's own virtualenv, inside .venv so that git, ruff and `make clean`
# treat it like the main one.
VENV313 := $(VENV)/py313
# What the smoke runs: the pure and driver layers, where a new Python breaks things first,
# in about a minute (install included) on top of the main run.
SMOKE313 ?= tests/models tests/drivers tests/test_lock.py

.PHONY: install run test test-py313 check-wheels lock lint bench clean

install: $(BIN)/checkpoint config/demo/trustlist.json

$(BIN)/checkpoint: pyproject.toml requirements.lock
	scripts/install.sh "$(PYTHON)" "$(VENV)"
	@touch $@

config/demo/trustlist.json: $(BIN)/checkpoint scripts/make_demo.py
	$(BIN)/python scripts/make_demo.py config/demo

run: install
	scripts/run-local.sh $(CONFIG)

test: install check-wheels test-py313
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Every locked package has a wheel, with its hash in the lock, for 64-bit Raspberry Pi OS
# on Python 3.11 and 3.13: a Pi never compiles at install time. Asks PyPI (a few seconds).
check-wheels: install
	$(BIN)/python scripts/check_wheels.py requirements.lock

# A python3.13 that runs: the PATH's, else pyenv's newest 3.13 (a pyenv shim alone fails
# when 3.13 is not among the selected versions). Without one the smoke says so and passes,
# so a machine that has only 3.11 can still run `make test`.
test-py313: install
	@py=; for p in python3.13 "$$(PYENV_VERSION=$$(pyenv whence python3.13 2>/dev/null | \
	    tail -n1) pyenv which python3.13 2>/dev/null)"; do \
	  if [ -n "$$p" ] && "$$p" -c '' 2>/dev/null; then py=$$p; break; fi; done; \
	if [ -z "$$py" ]; then echo "test-py313: SKIPPED, no python3.13 here"; exit 0; fi; \
	if [ ! -x $(VENV313)/bin/checkpoint ] || [ pyproject.toml -nt $(VENV313)/bin/checkpoint ] \
	    || [ requirements.lock -nt $(VENV313)/bin/checkpoint ]; then \
	  scripts/install.sh "$$py" $(VENV313) && touch $(VENV313)/bin/checkpoint; fi; \
	echo "test-py313: $$($(VENV313)/bin/python -V) on $(SMOKE313)"; \
	$(VENV313)/bin/python -m pytest -p no:cacheprovider $(SMOKE313)

# After a change of [project] dependencies: re-resolve the lock on the oldest Python we
# support (newer ones take the same pins; check-wheels proves they have wheels), keeping
# the current pins where they still fit and the lock's header comment.
lock: install
	cp requirements.lock $(VENV)/lock.tmp
	$(BIN)/pip-compile --extra=gpio --generate-hashes --allow-unsafe --no-emit-index-url \
	    --no-emit-find-links --strip-extras --no-header --output-file=$(VENV)/lock.tmp \
	    pyproject.toml
	{ sed -n '/^#/!q;p' requirements.lock; cat $(VENV)/lock.tmp; } > $(VENV)/lock.new
	mv $(VENV)/lock.new requirements.lock && rm -f $(VENV)/lock.tmp
	$(BIN)/python scripts/check_wheels.py requirements.lock

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/checkpoint bench

clean:
	rm -rf $(VENV) config/demo .run build *.egg-info
