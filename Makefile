# momentum-repro: `make help` lists the targets.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Stage commands (`python pipelines/...`) must find the project's venv first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1
# Every install is exactly requirements.lock (`make lock` regenerates it from pyproject.toml),
# installed by uv. The lock pins torch's CPU build: from this machine's wheel folder when
# PIP_FIND_LINKS names one, else from PyTorch's CPU index.
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
LOCK := requirements.lock
ifdef PIP_FIND_LINKS
TORCH_SOURCE := --find-links $(PIP_FIND_LINKS)
else
TORCH_SOURCE := --extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match
endif

# `make mlflow-ui MLFLOW_PORT=5001` (or mlflow-server): another port
MLFLOW_PORT ?= 5000

.PHONY: help venv lock check-lock repro repro-full test test-fast lint format bench report mlflow-ui mlflow-server data-push data-pull clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q uv==$(UV_VERSION)

# --compile-bytecode: every process of a run (dvc, each sweep's workers, the report) imports
# torch, Lightning and MLflow. Without .pyc files, where Python may not write them
# (PYTHONDONTWRITEBYTECODE, a read-only venv), each import compiles them from source again,
# several times slower.
$(VENV)/.installed: $(LOCK) pyproject.toml | $(UV)
	$(UV) pip sync -q --compile-bytecode --python $(PY) $(TORCH_SOURCE) $(LOCK)
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $@

venv: $(VENV)/.installed ## create .venv and install exactly requirements.lock (torch CPU build)

lock: | $(UV) ## regenerate requirements.lock from pyproject.toml (needs the package index)
	$(UV) pip compile -q pyproject.toml --extra dev --python-version 3.11 $(TORCH_SOURCE) \
		--override tools/lock-overrides.txt --no-header -o $(LOCK).tmp
	{ echo "# requirements.lock: every dependency of pyproject.toml (and its dev extra), pinned."; \
	  echo "# Made by \`make lock\` (uv pip compile); installed by \`make venv\`. Do not edit."; \
	  python3 tools/check_lock.py --print-digest; cat $(LOCK).tmp; } > $(LOCK)
	rm -f $(LOCK).tmp

check-lock: venv ## fail when requirements.lock and pyproject.toml disagree
	$(PY) tools/check_lock.py

repro: venv ## build data, run the default (quick) sweep and the report: dvc repro
	$(VENV)/bin/dvc repro

test: check-lock lint ## lock check, ruff, then the whole test suite (CI runs exactly this)
	$(VENV)/bin/pytest -q -n auto --dist worksteal

test-fast: lint ## ruff, then every test but the slow ones (under a minute)
	$(VENV)/bin/pytest -q -m "not slow"

lint: venv ## ruff check and format check only
	$(VENV)/bin/ruff check src pipelines tests benchmarks tools
	$(VENV)/bin/ruff format --check src pipelines tests benchmarks tools

format: venv ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix src pipelines tests benchmarks tools
	$(VENV)/bin/ruff format src pipelines tests benchmarks tools

bench: venv ## print throughput benchmarks (updates/s and ratios)
	$(PY) benchmarks/step_throughput.py
	$(PY) benchmarks/rnn_throughput.py
	$(PY) benchmarks/gv_cost.py
	$(PY) benchmarks/population_throughput.py

repro-full: venv ## all three autoencoders too (offline: MOMENTUM_REPRO_MIRROR=/path/to/mirror)
	$(VENV)/bin/dvc repro pipelines/full/dvc.yaml

mlflow-ui: venv ## browse the runs (MLFLOW_PORT, default 5000); prints the runs page's URL
	@$(PY) -c "from momentum_repro.tracking.mlflow_tracking import runs_view_url; \
		print('the runs:', runs_view_url('sqlite:///$(CURDIR)/mlflow.db', 'momentum-repro', $(MLFLOW_PORT)))"
	$(VENV)/bin/mlflow ui --host 127.0.0.1 --port $(MLFLOW_PORT) \
		--backend-store-uri sqlite:///$(CURDIR)/mlflow.db --default-artifact-root $(CURDIR)/mlartifacts

# `make mlflow-server MLFLOW_PORT=5001`: the port; MLFLOW_WORKERS: processes answering requests;
# MLFLOW_STORE: the folder of mlflow.db and mlartifacts/ (this repository's by default).
# Job execution (MLflow's GenAI background jobs: a pool of huey processes) is off: runs and
# artifacts need none of it.
MLFLOW_WORKERS ?= 2
MLFLOW_STORE ?= $(CURDIR)
mlflow-server: venv ## tracking server on 127.0.0.1 (MLFLOW_PORT, default 5000): mlflow.db, mlartifacts/
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
	$(VENV)/bin/mlflow server --host 127.0.0.1 --port $(MLFLOW_PORT) --workers $(MLFLOW_WORKERS) \
		--backend-store-uri sqlite:///$(abspath $(MLFLOW_STORE))/mlflow.db \
		--serve-artifacts --artifacts-destination $(abspath $(MLFLOW_STORE))/mlartifacts

# `make data-push` / `make data-pull`: the built sets (build stages' outputs) to and from the
# project's DVC remote (`dvc remote add -d store URL` once; see docs/operations.md)
BUILD_STAGES := build_curves build_rnn
data-push: venv ## dvc push the built CURVES and RNN sets to the default DVC remote
	$(VENV)/bin/dvc push $(BUILD_STAGES)

data-pull: venv ## dvc pull the built sets from the DVC remote instead of building them
	$(VENV)/bin/dvc pull $(BUILD_STAGES)

clean: ## remove run outputs (keeps .venv, data and mlflow.db)
	rm -rf outputs multirun .pytest_cache .ruff_cache
