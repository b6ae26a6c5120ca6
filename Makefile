# make serve: install (first time) and serve the chat + /ask on the seed corpus
# make test:  install everything tests need (Python extras, Debian chromium) and run lint, tests and the evals
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

.PHONY: serve test lint browser eval calibrate bench screenshot
serve: $(VENV)/.installed
	$(BIN)/rag serve

browser:
	@(command -v chromium >/dev/null && fc-list | grep -qi "noto sans cjk") || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# the evals: dev, tuning and holdout sets, each over the corpus its items name; exit 1 below a threshold
test: $(VENV)/.installed-test browser lint
	$(BIN)/pytest -q
	$(BIN)/rag eval --report evals/out/report.md --json evals/out/result.json

eval: $(VENV)/.installed-test
	$(BIN)/rag eval --baselines --report evals/out/report.md --json evals/out/result.json

# refit the evidence and refusal models on the tuning items (never the holdout), with cross-validated figures
calibrate: $(VENV)/.installed-test
	$(PY) -m evals.calibrate --cv --repeats=3 evals/dev.jsonl evals/tuning.jsonl

bench: $(VENV)/.installed-test
	$(PY) benchmarks/build_bench.py
	$(PY) benchmarks/scale_bench.py
	$(PY) benchmarks/serve_bench.py
	$(PY) benchmarks/upload_bench.py
	$(PY) benchmarks/peers_bench.py

# refresh the README's screenshot (tests write theirs to a temporary folder)
screenshot: $(VENV)/.installed-test browser
	SCREENSHOT_TO=$(CURDIR)/docs/screenshot.png $(BIN)/pytest -q tests/test_browser.py
