# The two commands of the README: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: demo test test-sqlite test-app test-ballistics test-postgres install system-deps clean translations

demo: install
	$(BIN)/qms demo

# Three runs side by side, their output one after the other: the comparison library on SQLite (its
# Fadul validation alone keeps both cores busy for minutes), the rest of the suite on SQLite, and the
# web application tests again on PostgreSQL. Run one after the other, one core idled for a third of
# the time. Any failing run fails the whole.
test: install system-deps
	@logs=$$(mktemp -d); \
	$(MAKE) --no-print-directory test-ballistics > "$$logs/ballistics" 2>&1 & library=$$!; \
	$(MAKE) --no-print-directory test-postgres > "$$logs/postgres" 2>&1 & postgres=$$!; \
	$(MAKE) --no-print-directory test-app; app=$$?; \
	wait $$library; library=$$?; wait $$postgres; postgres=$$?; \
	cat "$$logs/ballistics" "$$logs/postgres"; rm -rf "$$logs"; \
	echo "== results: application on SQLite $$app, comparison library $$library, PostgreSQL $$postgres (0 = passed) =="; \
	[ $$app -eq 0 ] && [ $$library -eq 0 ] && [ $$postgres -eq 0 ]

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

system-deps:
	bash .ci/system-deps

# The whole suite in one run on SQLite (what `make test` splits in two).
test-sqlite:
	@echo "== test suite on SQLite =="
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A selection (PYTEST_ARGS="-k ...") may match nothing in one of the runs: pytest's "no tests
# collected" (exit 5) then passes that run; without a selection it fails it.
test-app:
	@echo "== application, content and browser tests on SQLite =="
	@$(BIN)/python -m pytest --ignore=tests/ballistics $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] && [ -n "$(PYTEST_ARGS)" ] || exit $$rc; }

test-ballistics:
	@echo "== comparison library tests =="
	@$(BIN)/python -m pytest tests/ballistics $(PYTEST_ARGS) || { rc=$$?; [ $$rc -eq 5 ] && [ -n "$(PYTEST_ARGS)" ] || exit $$rc; }

test-postgres:
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(subst +psycopg,,$(PG_TEST_URL))').close()" 2>/dev/null; then \
		echo "== web application tests that use the database, again on PostgreSQL =="; \
		QMS_TEST_DATABASE_URL=$(PG_TEST_URL) QMS_TEST_DATABASE_ONLY=1 $(BIN)/python -m pytest tests/qms $(PYTEST_ARGS) \
			|| { rc=$$?; [ $$rc -eq 5 ] && [ -n "$(PYTEST_ARGS)" ] || exit $$rc; }; \
	else \
		echo "PostgreSQL is not reachable at $(PG_TEST_URL): the PostgreSQL run is SKIPPED"; \
		if [ -n "$$CI" ]; then exit 1; fi; \
	fi

# Extract the messages and bring every catalogue (qms/translations) up to date; the app compiles them.
translations: install
	$(BIN)/qms translations update

clean:
	rm -rf $(VENV) instance .pytest_cache
