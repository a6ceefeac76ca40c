# Customer Center. The two commands: `make run` (everything, in the foreground) and `make test`.
# PostgreSQL and RabbitMQ are checked (and started or installed when local) by scripts/ensure-infra.sh.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: venv infra browser run test bench chaos migrate seed clean

run: venv infra
	exec $(PY) -m scripts.run

test: venv infra browser
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks (not tests): one table, each figure beside a baseline measured in the same run, and
# bench/results/<time>-<mode>.json. QUICK=1: under a minute; FULL=1: 1,000,000 subscriptions billed.
# BENCH_ARGS="--soak 600": the memory soak (registrations for 600 s, every process's RSS sampled).
bench: venv infra
	$(PY) -m bench $(if $(QUICK),--quick) $(if $(FULL),--full) $(BENCH_ARGS)

# The long chaos scenarios (docs/reliability.md), on a PostgreSQL, RabbitMQ and services of their own:
# CHAOS_ARGS="--scale 0.1" runs a tenth of the issue's sizes, "--only billing,poison" some of them.
chaos: venv
	$(PY) -m tests.chaos.run $(CHAOS_ARGS)

migrate: venv infra
	$(PY) -m services.cli migrate

seed: venv infra
	$(PY) -m services.cli seed-demo

infra:
	@bash scripts/ensure-infra.sh

# Chromium (Debian's) and axe-core for the browser tests; instant when present.
browser:
	@bash scripts/ensure-browser.sh

clean:
	rm -rf var/

# The virtualenv, reinstalled only when requirements.lock is newer than the stamp.
venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "Python 3.11 or newer is needed, '$(PYTHON)' is: $$($(PYTHON) -V 2>&1 || echo missing)."; \
	  echo "Install it (Debian/Ubuntu: apt-get install python3 python3-venv), or run: make PYTHON=python3.11 ..."; \
	  exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  pkg=python$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "The Python venv module is missing: installing $$pkg"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv $$pkg; \
	  else \
	    echo "The Python venv module is missing. Install it: sudo apt-get install python3-venv $$pkg"; exit 1; \
	  fi; }
	@test -x $(VENV)/bin/pip || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -r requirements.lock
	@touch $@
