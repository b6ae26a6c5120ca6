# make serve: install (first time) and serve the chat + /ask on the seed corpus
# make test:  install everything tests need (Python extras, Debian chromium) and run lint, tests and the eval
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $@

.PHONY: serve test lint browser eval bench
serve: $(VENV)/.installed
	$(BIN)/rag serve

browser:
	@(command -v chromium >/dev/null && fc-list | grep -qi "noto sans cjk") || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(VENV)/.installed-test browser lint
	$(BIN)/pytest -q
	$(BIN)/rag eval --set evals/dev.jsonl --report evals/out/report.md --json evals/out/result.json

eval: $(VENV)/.installed-test
	$(BIN)/rag eval --set evals/dev.jsonl --baselines --report evals/out/report.md --json evals/out/result.json

bench: $(VENV)/.installed-test
	$(PY) benchmarks/retrieval_bench.py
