# The two set-up commands: `make demo` and `make test`. Both create .venv if it is missing and install.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# Debian packages the tests need: headless Chromium for browser tests, CJK fonts so Chinese never renders as
# boxes, poppler for reading PDFs back, the PostgreSQL client tools (pg_dump, pg_restore, psql) for backups.
SYSTEM_PACKAGES := chromium chromium-driver fonts-wqy-microhei poppler-utils postgresql-client

.PHONY: demo test install system-deps clean-demo

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo -n"; else SUDO=none; fi; \
	  if [ "$$SUDO" = none ]; then echo "warning: cannot install$$missing (not root); browser and PDF tests will skip"; \
	  else echo "installing$$missing ..."; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi; \
	fi

demo: install
	$(VENV)/bin/bizenv demo

# Two test workers (CI has 2 cores; a serial run keeps about one of them busy). --dist loadfile keeps each file's
# tests on one worker, so module fixtures (demo warehouses, Chromium, live servers) are still built once.
PYTEST_ARGS ?= -n 2 --dist loadfile
test: install system-deps
	$(VENV)/bin/pytest $(PYTEST_ARGS)

clean-demo:
	rm -rf var/
