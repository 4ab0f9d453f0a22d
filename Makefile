# Developer entry points. Needs only GNU make, Python 3.11 and pip; everything else is
# installed into $(VENV) from the pinned requirements.lock.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV = .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
LOCK = requirements.lock
ARGS ?=
# Port of `make mlflow-ui` / `make mlflow-server`.
PORT ?= 5000
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k io -x"`.
PYTEST_ARGS ?=
# pytest-xdist workers: two by default (the CI machine has 2 cores). On the 2-core dev box the
# default suite (760 tests) took 199-234 s serially and 133 s with `-n 2`; `make test XDIST=`
# runs it serially (each worker trains its own copy of the shared session run).
XDIST ?= -n 2

.PHONY: help install lint format typecheck test test-all readme-check simulate calibration calibrate harmonise train effects reports reproduce validate notebooks mlflow-ui mlflow-server consortium-server i18n-extract i18n-update i18n-compile bench lock clean

help: ## List targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): $(LOCK) pyproject.toml
	@echo ">>> creating $(VENV) with $$($(PY) --version) and installing the locked environment"
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

install: $(STAMP) ## Create .venv from requirements.lock and install the package (editable)

lint: install ## ruff check, ruff format --check, import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install ## mypy on src/
	$(BIN)/mypy

test: install ## Fast suite (excludes @pytest.mark.slow)
	@echo ">>> make test: running pytest on tests/ (slow tests excluded; 'make test-all' includes them)"
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

test-all: install ## Full suite, slow tests included
	@echo ">>> make test-all: running pytest on tests/ including slow tests"
	$(BIN)/pytest $(XDIST) -m "" $(PYTEST_ARGS)

readme-check: ## Run the README's commands as written on a clean clone, small sizes (about 15 min)
	bash scripts/readme_commands.sh $(ARGS)

simulate: install ## Write synthetic registry exports: make simulate ARGS="seed=1"
	$(BIN)/sma-simulate $(ARGS)

calibration: install ## Emulate every published figure with the calibrated simulator (table)
	$(BIN)/sma-emulate trial=all $(ARGS)

calibrate: install ## Fit the simulator to the 40 published figures; writes configs/calibration/
	$(BIN)/sma-calibrate $(ARGS)

harmonise: install ## Harmonise registry exports: make harmonise ARGS="..."
	$(BIN)/sma-harmonise $(ARGS)

# The main job: simulates and harmonises the default dataset if missing, trains, logs to MLflow.
EXP ?= baseline_responder
train: install ## Train and log one run: make train (EXP=<experiment>, ARGS="model=hist_gb")
	$(BIN)/sma-train experiments=$(EXP) $(ARGS)

effects: install ## Per-therapy effects on the 10,000-person consortium, scored against the truth
	$(BIN)/sma-train experiments=therapy_effects $(ARGS)

RUN ?=
reports: install ## Per-patient reports (HTML + PDF) of a run: make reports RUN=<run id> (ARGS="patients=[...]")
	@if [ -z "$(RUN)" ]; then echo ">>> give the run: make reports RUN=<run id>"; exit 2; fi
	$(BIN)/sma-report run_id=$(RUN) $(ARGS)

reproduce: install ## Rebuild a logged run and compare bit for bit: make reproduce RUN=<run id> (ARGS="tracking=server")
	@if [ -z "$(RUN)" ]; then echo ">>> give the run: make reproduce RUN=<run id>"; exit 2; fi
	$(BIN)/sma-reproduce $(RUN) $(ARGS)

MODEL ?=
EXPORT ?=
REGISTRY ?= all
validate: install ## External validation, aggregates only: make validate MODEL=models:/<name>/<v> EXPORT=<folder> REGISTRY=<mapping>
	@if [ -z "$(MODEL)" ] || [ -z "$(EXPORT)" ]; then echo ">>> give MODEL=<models:/... or runs:/...> and EXPORT=<export folder> (REGISTRY=<mapping>, default all)"; exit 2; fi
	$(BIN)/sma-validate model=$(MODEL) export_dir=$(EXPORT) registry=$(REGISTRY) $(ARGS)

notebooks: install ## Execute notebooks/ in order into outputs/notebooks/ (the committed ones stay stripped)
	$(BIN)/python scripts/run_notebooks.py $(ARGS)

MLFLOW_DB ?= mlruns/mlflow.db
mlflow-ui: install ## Open the MLflow UI on the local store (http://127.0.0.1:5000; PORT=5001 for another port)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(MLFLOW_DB) --host 127.0.0.1 --port $(PORT)

mlflow-server: install ## Start a local MLflow tracking server (SQLite backend) for tracking=server (PORT=)
	$(BIN)/mlflow server --backend-store-uri sqlite:///mlruns/server.db --artifacts-destination mlruns/server-artifacts --host 127.0.0.1 --port $(PORT)

LOCALES := src/sma_response/report/locales

i18n-extract: install ## Extract the report templates' messages into locales/messages.pot (Babel)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --omit-header --sort-output -o $(LOCALES)/messages.pot .

i18n-update: i18n-extract ## Merge new messages into every language's messages.po (then translate them)
	$(BIN)/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-fuzzy-matching --ignore-obsolete -w 100

i18n-compile: install ## Compile the catalogues to .mo, with statistics (the package compiles them at load time)
	$(BIN)/pybabel compile -d $(LOCALES) --statistics

consortium-server: install ## Consortium server: MLflow basic-auth on PostgreSQL in .consortium/ (PORT=)
	@command -v pg_config >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo ">>> installing PostgreSQL (apt)"; SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; }
	@mkdir -p .consortium && chmod 755 .consortium
	$(BIN)/sma-consortium serve --folder .consortium --host 127.0.0.1 --port $(PORT)

bench: install ## Run every benchmarks/bench_*.py (results go to benchmarks/results/)
	@shopt -s nullglob; files=(benchmarks/bench_*.py); \
	if [ $${#files[@]} -eq 0 ]; then echo ">>> no benchmarks/bench_*.py found"; exit 0; fi; \
	for f in "$${files[@]}"; do echo ">>> $$f"; $(BIN)/python "$$f" || exit 1; done

# Regenerate requirements.lock from pyproject.toml in a throwaway venv: runtime + dev group.
lock: ## Re-resolve dependencies into requirements.lock
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo ">>> resolving in $$tmp/venv"; \
	$(PY) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet -e . --group dev; \
	{ echo "# Exact versions of every runtime and dev dependency (pyproject.toml + dev group)."; \
	  echo "# Generated by 'make lock' with $$("$$tmp/venv/bin/python" --version) on $$(uname -sm)"; \
	  echo "# (fresh venv, pip install -e . --group dev, pip freeze --exclude-editable)."; \
	  echo "# Do not edit by hand; re-run 'make lock' after changing dependencies."; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable; } > $(LOCK).tmp; \
	mv $(LOCK).tmp $(LOCK); \
	echo ">>> wrote $(LOCK) ($$(grep -vc '^#' $(LOCK)) packages)"

clean: ## Remove the venv, caches and build outputs (keeps data/, outputs/, mlruns/)
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .mypy_cache .hypothesis .import_linter_cache
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
	find . -name '*.egg-info' -type d -prune -not -path './.git/*' -exec rm -rf {} +
