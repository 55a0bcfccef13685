# The two commands of the README: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: demo test test-sqlite test-postgres install system-deps clean

demo: install
	$(BIN)/qms demo

# The PostgreSQL run goes beside the SQLite run (its output follows it): most of the SQLite suite
# keeps one core of two busy, so the whole run takes about the SQLite run's time.
test: install system-deps
	@pg_log=$$(mktemp); \
	$(MAKE) --no-print-directory test-postgres > "$$pg_log" 2>&1 & pg=$$!; \
	$(MAKE) --no-print-directory test-sqlite; sqlite=$$?; \
	wait $$pg; postgres=$$?; \
	cat "$$pg_log"; rm -f "$$pg_log"; \
	[ $$sqlite -eq 0 ] && [ $$postgres -eq 0 ]

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

system-deps:
	bash .ci/system-deps

test-sqlite:
	@echo "== test suite on SQLite =="
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgres:
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(subst +psycopg,,$(PG_TEST_URL))').close()" 2>/dev/null; then \
		echo "== web application tests again on PostgreSQL =="; \
		QMS_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest tests/qms $(PYTEST_ARGS); \
	else \
		echo "PostgreSQL is not reachable at $(PG_TEST_URL): the PostgreSQL run is SKIPPED"; \
		if [ -n "$$CI" ]; then exit 1; fi; \
	fi

clean:
	rm -rf $(VENV) instance .pytest_cache
