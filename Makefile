# Two commands from a fresh clone: `make run` and `make test`. Everything lives in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint demo install translations clean bench help

help:
	@echo "make run    install into .venv, migrate the SQLite database, serve on http://$(HOST):$(PORT)"
	@echo "make test   install test tools and run the whole suite"
	@echo "make lint   ruff and mypy"
	@echo "make demo   load the demo data (a learning community with three sessions)"
	@echo "make bench  run the benchmarks in bench/ and print their tables"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "labs needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	$(BIN)/labs serve --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/labs demo

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests migrations bench
	$(BIN)/mypy

translations: install
	scripts/i18n.sh all

# Each benchmark prints its table beside the bare baseline of the same run (docs/performance.md).
# With LABS_BENCH_POSTGRES_URL (and LABS_BENCH_REDIS_URL) also PostgreSQL and two workers.
bench: install
	$(BIN)/python bench/live_latency.py --burst --clients 1000 --window 10
	$(BIN)/python bench/live_latency.py --clients 1000 --rate 10 --duration 10
	$(BIN)/python bench/notes_throughput.py --duration 10
	$(BIN)/python bench/reconnect_storm.py --clients 1000 --behind 200
	@if [ -n "$(LABS_BENCH_POSTGRES_URL)" ]; then \
	  $(BIN)/python bench/notes_throughput.py --duration 10 --database-url "$(LABS_BENCH_POSTGRES_URL)"; fi
	@if [ -n "$(LABS_BENCH_POSTGRES_URL)" ] && [ -n "$(LABS_BENCH_REDIS_URL)" ]; then \
	  $(BIN)/python bench/live_latency.py --clients 2000 --rate 10 --duration 10 --servers 2 --client-procs 2 \
	    --database-url "$(LABS_BENCH_POSTGRES_URL)" --channels-url "$(LABS_BENCH_REDIS_URL)"; fi
	$(BIN)/python bench/case_search.py $(if $(LABS_BENCH_POSTGRES_URL),--database-url "$(LABS_BENCH_POSTGRES_URL)")

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
