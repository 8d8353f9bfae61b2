# momentum-repro: `make help` lists the targets.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Stage commands (`python pipelines/...`) must find the project's venv first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1
# torch first: the pinned CPU build; an unpinned torch would pull a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: help venv repro repro-full test lint format bench sweep-cpu report mlflow-ui clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.installed ## create .venv and install the project (torch CPU build first)

repro: venv ## build data, run the default (quick) sweep and the report: dvc repro
	$(VENV)/bin/dvc repro

test: venv ## ruff check + format check, then the test suite
	$(VENV)/bin/ruff check src pipelines tests benchmarks
	$(VENV)/bin/ruff format --check src pipelines tests benchmarks
	$(VENV)/bin/pytest -q

lint: venv ## ruff check and format check only
	$(VENV)/bin/ruff check src pipelines tests benchmarks
	$(VENV)/bin/ruff format --check src pipelines tests benchmarks

format: venv ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix src pipelines tests benchmarks
	$(VENV)/bin/ruff format src pipelines tests benchmarks

bench: venv ## print throughput benchmarks (updates/s and ratios)
	$(PY) benchmarks/step_throughput.py
	$(PY) benchmarks/rnn_throughput.py
	$(PY) benchmarks/gv_cost.py

repro-full: venv ## all three autoencoders too (MOMENTUM_REPRO_MIRROR=../shared/data offline)
	$(VENV)/bin/dvc repro pipelines/full/dvc.yaml

mlflow-ui: venv ## browse the runs: http://127.0.0.1:5000
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --default-artifact-root $(CURDIR)/mlartifacts

clean: ## remove run outputs (keeps .venv, data and mlflow.db)
	rm -rf outputs multirun .pytest_cache .ruff_cache
