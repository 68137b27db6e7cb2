# The two commands of the README: `make demo` and `make test`. Each creates what it needs first.
PY ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test lint typecheck unit services bench eval clean

$(UV):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PY) --quiet
	touch $@

demo: $(VENV)/.synced
	$(BIN)/model-incident demo

test: $(VENV)/.synced services lint typecheck unit

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.synced
	$(BIN)/mypy bot tools

unit: $(VENV)/.synced
	$(BIN)/pytest -q -n 2 --dist loadgroup

# Real servers the integration tests talk to: Prometheus and Alertmanager binaries, PostgreSQL.
services:
	@bash scripts/ensure-services.sh

bench: $(VENV)/.synced
	$(BIN)/python -m bench.run_all

eval: $(VENV)/.synced
	$(BIN)/model-incident eval

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
