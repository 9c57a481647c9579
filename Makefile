# Two set-up commands (see README):
#   make demo  - install lrguard and diagnose the bundled real example runs (YOLO, HF, Lightning, Accelerate, PyTorch)
#   make test  - install lrguard, the test tools and the pinned real trainers, then run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench examples clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.core-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.full-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test,trainers,fast]"
	touch $@ $(VENV)/.core-installed

demo: $(VENV)/.core-installed
	$(BIN)/lrguard diagnose --fail-on never examples/yolov5/seed-like-epochs-changed
	$(BIN)/lrguard diagnose --fail-on never examples/yolov5/clean examples/ultralytics/continue-from-last
	$(BIN)/lrguard diagnose --fail-on never examples/hf/max-steps examples/lightning/restart-from-weights examples/accelerate/stepped-per-process examples/torch/scheduler-built-after-load

test: $(VENV)/.full-installed chromium
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The HTML report test opens the report in headless Chromium (Debian's `chromium` package).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { command -v apt-get >/dev/null 2>&1 && (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) ; } || \
	  echo "chromium not installed and apt-get unavailable: the browser check of the HTML report will be skipped"

lint: $(VENV)/.full-installed
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

# bench_ckpt.py builds its checkpoints with torch.save, so the benchmarks need the full install.
bench: $(VENV)/.full-installed
	$(BIN)/python bench/bench_diagnose.py
	$(BIN)/python bench/bench_ckpt.py
	$(BIN)/python bench/bench_tfevents.py

examples: $(VENV)/.full-installed
	$(BIN)/python scripts/make_examples.py examples

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist
