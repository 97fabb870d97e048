# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins boto3/packaging/networkx below the platform's, so it gets its own venv.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
CHECKOV_VERSION := 3.3.30
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# `make demo` and `make ui` show the last year of quotes (the 1st of the month a year ago):
# ~1,300 (day, symbol) partitions for 5 symbols, backfilled in minutes. The platform's own
# default (settings.py) is 2020-01-01; `FINANCE_QUOTES_START=2020-01-01 make demo` builds it all.
demo ui: export FINANCE_QUOTES_START ?= $(shell $(PYTHON) -c 'import datetime as d; t = d.date.today(); print(t.replace(year=t.year - 1, day=1))')

.PHONY: setup demo test lint audit ui clean spark-package

# Byte-compiled at install, as in deploy/Dockerfile: where PYTHONDONTWRITEBYTECODE is set
# (as on these machines) every process would otherwise recompile Dagster, pandas and Great
# Expectations from source (measured: 14 s of a 1M-customer benchmark run, 4-7 s of its GE check).
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -e '.[dev]'
	$(BIN)/python -m compileall -q finance_platform
	touch $@

$(TOOLS_STAMP):
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip uv
	$(TOOLS)/bin/uv pip install --python $(TOOLS)/bin/python --quiet --compile-bytecode 'checkov==$(CHECKOV_VERSION)'
	touch $@

setup: $(STAMP) $(TOOLS_STAMP)
	@mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

## Build every asset on local defaults, print a summary, then serve the UI on 127.0.0.1:3000.
demo: setup
	$(BIN)/python -m finance_platform.demo
	@if [ -z "$(DEMO_NO_UI)" ]; then \
		echo "Dagster UI on http://127.0.0.1:3000 (Ctrl-C to stop)"; \
		$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000; \
	fi

ui: setup
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

## Lint, load the definitions with `dg check defs`, run the whole test suite (unit,
## integration, Spark, end-to-end).
test: setup
	$(BIN)/ruff check finance_platform finance_platform_tests benchmarks
	# The code location loads as `dg` (and the UI) loads it: [tool.dg] in pyproject.toml.
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## pip-audit on the installed environment + bandit on the package (deploy/audit.py).
audit: setup
	$(BIN)/python deploy/audit.py

lint: setup
	$(BIN)/ruff check finance_platform finance_platform_tests benchmarks
	$(BIN)/ruff format --check finance_platform finance_platform_tests benchmarks

## Build the Spark job artifacts (dist/spark/run_job.py + finance_platform.zip) for EMR / Glue;
## SPARK_ARTIFACTS_URI=s3://bucket/prefix also uploads them (deploy/spark.md).
spark-package: setup
	$(BIN)/python -m finance_platform.spark_jobs.package --out dist/spark $(if $(SPARK_ARTIFACTS_URI),--upload $(SPARK_ARTIFACTS_URI))

clean:
	rm -rf .lake .dagster_home build dist *.egg-info
