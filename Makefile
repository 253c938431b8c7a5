# Build tooling for reconciler.  GNU make.
#
#   make dev    create .venv from the hashed lock lock/dev.txt + editable install
#   make test   set-up (tool venvs two at a time), ruff, mypy and pytest on every core
#               (PYTEST_ARGS="-k foo" to narrow, TEST_WORKERS=0 for one process)
#   make demo   run scripts/demo.sh against fixtures/example
#   make demo-meltano  lock, plan, apply a Meltano project, then `meltano invoke` (no install)
#   make meltano  build/meltano: Meltano from the hashed lock/meltano.txt (its own venv)
#   make pip-audit  build/pip-audit: pip-audit from the hashed lock/pip-audit.txt (its own venv)
#   make kill-test  SIGKILL apply at 30 random moments (CI runs 8 inside make test)
#   make bench  benchmark against pip/pip-tools/uv loops (BENCH_ARGS=--quick)
#   make lock   recompile lock/requirements.txt, lock/requirements-uv.txt (with the
#               uv extra), lock/dev.txt and lock/test-wheels.txt from PyPI
#               (LOCK_ARGS=--upgrade to move pins forward)
#   make dist   dist/: wheel + sdist of venv-reconciler, byte-for-byte reproducible, twine-checked
#   make tools  build/pipx, build/twine, build/check-jsonschema, build/ansible (hashed locks)
#   make tool-locks  recompile lock/{pipx,twine,check-jsonschema,ansible}.txt from PyPI
#   make helper-locks  recompile the pip-tools locks for Python 3.8-3.10 (package data)
#   make clean  remove the venv, build outputs and tool caches

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python

# Stamp files: the venv is (re)built only when the lock changes, and the
# editable install is redone only when pyproject.toml (or the venv) changes.
DEPS_STAMP := $(VENV)/.deps-stamp
DEV_STAMP := $(VENV)/.stamp

PYTEST_ARGS ?=
# Lint only the source directories that exist right now.
LINT_DIRS := $(wildcard reconciler tests bench)

# ---- lock ------------------------------------------------------------------
LOCKENV := build/lockenv
LOCKENV_STAMP := $(LOCKENV)/.stamp
PIP_TOOLS_VERSION ?= 7.6.2
LOCK_PIP_VERSION ?= 26.3
LOCK_ARGS ?=
LOCK_FLAGS := --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
# Locks come from PyPI only: neutralise any ambient pip configuration
# (config files, find-links, extra indexes, constraints); PIP_CERT is kept.
PYPI_ONLY := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT \
	-u PIP_NO_INDEX -u PIP_REQUIRE_HASHES \
	PIP_CONFIG_FILE=/dev/null PIP_INDEX_URL=https://pypi.org/simple \
	CUSTOM_COMPILE_COMMAND="make lock"

.PHONY: dev test test-setup test-wheels demo demo-meltano meltano pip-audit bench bench-tests kill-test lock helper-locks clean \
	dist tools tool-locks wheelhouse

dev: $(DEV_STAMP)

# Set-up installs every hashed lock with uv (pinned and hash-checked in lock/dev.txt): the
# dev venv's pip bootstraps only uv's own wheel (its hashes taken from lock/dev.txt), then uv
# installs the rest. Same pins and hashes as pip would take, in a fraction of the time.
UV := $(abspath $(VENV))/bin/uv
UV_PYPI_ONLY := env -u UV_INDEX_URL -u UV_DEFAULT_INDEX -u UV_INDEX -u UV_EXTRA_INDEX_URL \
	-u UV_FIND_LINKS -u UV_NO_INDEX -u UV_CONSTRAINT -u UV_OVERRIDE -u UV_PYTHON
# $(call uv_install,VENV_DIR,LOCK): hash-checked install of LOCK into the venv VENV_DIR
uv_install = $(UV_PYPI_ONLY) $(UV) pip install --no-config --index-url https://pypi.org/simple \
	--python $(1)/bin/python --require-hashes --no-deps --compile-bytecode --quiet -r $(2)

$(DEPS_STAMP): lock/dev.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	awk '/^uv==/ {on = 1} on {print} on && !/\\$$/ {exit}' lock/dev.txt > $(VENV)/uv-lock.txt
	$(PYPI_ONLY) $(VENV_PY) -m pip install --require-hashes --no-deps --progress-bar off \
		--quiet -r $(VENV)/uv-lock.txt
	$(call uv_install,$(VENV),lock/dev.txt)
	touch $@

$(DEV_STAMP): $(DEPS_STAMP) pyproject.toml
	@# Drop the editable install of the old distribution name "reconciler" (the index's "reconciler" is another project).
	$(VENV_PY) -m pip uninstall --yes --quiet reconciler 2>/dev/null || true
	$(VENV_PY) -m pip install --no-deps --no-build-isolation -e .
	touch $@

# ---- Meltano (its own venv, never the dev venv; used by tests, demo-meltano and bench) ----
MELTANO_VENV := build/meltano
MELTANO_STAMP := $(MELTANO_VENV)/.stamp

meltano: $(MELTANO_STAMP)

$(MELTANO_STAMP): lock/meltano.txt $(DEPS_STAMP)
	rm -rf $(MELTANO_VENV)
	$(PYTHON) -m venv --without-pip $(MELTANO_VENV)
	$(call uv_install,$(MELTANO_VENV),lock/meltano.txt)
	touch $@

# ---- pip-audit (its own venv, never the dev venv; `reconciler audit` runs it, tests use it) ----
PIP_AUDIT_VENV := build/pip-audit
PIP_AUDIT_STAMP := $(PIP_AUDIT_VENV)/.stamp

pip-audit: $(PIP_AUDIT_STAMP)

$(PIP_AUDIT_STAMP): lock/pip-audit.txt $(DEPS_STAMP)
	rm -rf $(PIP_AUDIT_VENV)
	$(PYTHON) -m venv --without-pip $(PIP_AUDIT_VENV)
	$(call uv_install,$(PIP_AUDIT_VENV),lock/pip-audit.txt)
	touch $@

# Wheels the tests install offline, fetched once from PyPI (hash-checked) during set-up:
# setuptools (the build backend of the local projects, git repositories and sdists the tests
# build) and, per old Python, the pip-tools helper reconciler ships a lock for.
TEST_WHEELS := build/test-wheels
TEST_WHEELS_STAMP := $(TEST_WHEELS)/.stamp
HELPER_LOCKS := $(wildcard reconciler/locking/helpers/py3.*.txt)
DOWNLOAD := $(PYPI_ONLY) $(VENV_PY) -m pip download --no-deps --require-hashes \
	--only-binary :all: --progress-bar off --quiet --dest $(TEST_WHEELS)

$(TEST_WHEELS_STAMP): $(DEPS_STAMP) lock/test-wheels.txt $(HELPER_LOCKS)
	mkdir -p $(TEST_WHEELS)
	$(DOWNLOAD) -r lock/test-wheels.txt
	for lock in $(HELPER_LOCKS); do \
		version=$$(basename $$lock .txt | sed 's/^py//'); \
		$(DOWNLOAD) --python-version $$version -r $$lock || exit 1; \
	done
	touch $@

test-wheels: $(TEST_WHEELS_STAMP)

# ---- release: artifacts, the tools that test them, the wheelhouse they install from ----------
# Each test tool has its own hashed lock (lock/<tool>.txt) and venv (build/<tool>), like Meltano.
TOOLS := pipx twine check-jsonschema ansible
TOOL_STAMPS := $(foreach tool,$(TOOLS),build/$(tool)/.stamp)

tools: $(TOOL_STAMPS)

$(TOOL_STAMPS): build/%/.stamp: lock/%.txt $(DEPS_STAMP)
	rm -rf build/$*
	$(PYTHON) -m venv --without-pip build/$*
	$(call uv_install,build/$*,lock/$*.txt)
	touch $@

# The tool's runtime dependencies (with the uv extra), hash-checked once at set-up: pipx and
# `uv tool install` install the built wheel from here with --no-index (no network in tests).
WHEELHOUSE := build/wheelhouse
WHEELHOUSE_STAMP := $(WHEELHOUSE)/.stamp

$(WHEELHOUSE_STAMP): $(DEPS_STAMP) lock/requirements-uv.txt
	rm -rf $(WHEELHOUSE)
	mkdir -p $(WHEELHOUSE)
	$(PYPI_ONLY) $(VENV_PY) -m pip download --no-deps --require-hashes --only-binary :all: \
		--progress-bar off --quiet --dest $(WHEELHOUSE) -r lock/requirements-uv.txt
	touch $@

wheelhouse: $(WHEELHOUSE_STAMP)

# Wheel and sdist from the working tree, no build isolation (the hashed setuptools of lock/dev.txt),
# timestamps from the last commit: two builds of one commit are the same bytes.
dist: $(DEV_STAMP) build/twine/.stamp
	$(VENV_PY) scripts/dist.py --outdir dist
	build/twine/bin/twine check --strict dist/*

# Set-up of the tool venvs is independent work: two at a time (SETUP_JOBS) on a 2-core machine.
SETUP_JOBS ?= 2
test-setup: dev meltano pip-audit $(TEST_WHEELS_STAMP) tools wheelhouse dist

# The dev venv's reconciler is an editable install: its bytecode lives in reconciler/__pycache__,
# which nothing writes where PYTHONDONTWRITEBYTECODE is set (the tests set it for the venvs they
# build). Without it every `python -m reconciler` a test or the bench starts compiles each module
# it imports again (~40 ms for --help, more for apply), so compile once, before they run.
COMPILE_SOURCES = $(VENV_PY) -m compileall -q -j0 reconciler

# pytest-xdist: one worker per core, at most TEST_WORKERS_MAX (TEST_WORKERS=0: one process).
# --dist loadgroup keeps each `xdist_group` on one worker (tests/README.md).
TEST_WORKERS_MAX ?= 4
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt $(TEST_WORKERS_MAX) ] && n=$(TEST_WORKERS_MAX); echo $$n)

test:
	$(MAKE) --no-print-directory -j$(SETUP_JOBS) test-setup
	$(VENV)/bin/ruff check $(LINT_DIRS)
	$(VENV)/bin/mypy reconciler
	$(COMPILE_SOURCES)
	RECONCILER_REQUIRE_TOOLS=1 $(VENV_PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

demo: dev
	bash scripts/demo.sh

demo-meltano: dev meltano
	bash scripts/demo-meltano.sh

KILL_ITERATIONS ?= 30
kill-test: dev
	KILL_ITERATIONS=$(KILL_ITERATIONS) $(VENV_PY) -m pytest tests/test_kill.py $(PYTEST_ARGS)

# Offline benchmark (bench/README.md): ~13 min on 2 quiet cores, A/B against 6c56c1d included;
# BENCH_ARGS=--quick for a ~4 min smoke run.
BENCH_ARGS ?=
bench: dev meltano
	$(COMPILE_SOURCES)
	$(VENV_PY) bench/run.py $(BENCH_ARGS)

# Issue 19's yardstick: .ci/run on fresh clones of SUITE_BASE and HEAD, one after the other (~15 min).
SUITE_BASE ?= 6c56c1d
bench-tests:
	python3 bench/suite_time.py --base $(SUITE_BASE) --head HEAD

$(LOCKENV_STAMP):
	rm -rf $(LOCKENV)
	$(PYTHON) -m venv $(LOCKENV)
	$(PYPI_ONLY) $(LOCKENV)/bin/python -m pip install \
		"pip==$(LOCK_PIP_VERSION)" "pip-tools==$(PIP_TOOLS_VERSION)"
	touch $@

lock: $(LOCKENV_STAMP)
	$(PYPI_ONLY) $(LOCKENV)/bin/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
		-o lock/requirements.txt pyproject.toml
	$(PYPI_ONLY) $(LOCKENV)/bin/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
		--extra uv -o lock/requirements-uv.txt pyproject.toml
	$(PYPI_ONLY) $(LOCKENV)/bin/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
		--extra dev --extra uv --extra sbom -o lock/dev.txt pyproject.toml lock/dev.in
	$(PYPI_ONLY) $(LOCKENV)/bin/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
		-o lock/meltano.txt lock/meltano.in
	$(PYPI_ONLY) $(LOCKENV)/bin/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
		-o lock/test-wheels.txt lock/test-wheels.in
	$(PYPI_ONLY) $(LOCKENV)/bin/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
		-o lock/pip-audit.txt lock/pip-audit.in
	$(MAKE) tool-locks

tool-locks: $(LOCKENV_STAMP)
	for tool in $(TOOLS); do \
		$(PYPI_ONLY) $(LOCKENV)/bin/pip-compile $(LOCK_FLAGS) $(LOCK_ARGS) \
			-o lock/$$tool.txt lock/$$tool.in || exit 1; \
	done

# The pip-tools helper locks shipped as package data, one per Python older than the tool's own
# (uv compiles for another Python version without that interpreter).
helper-locks: dev
	for version in 3.8 3.9 3.10; do \
		$(PYPI_ONLY) UV_CUSTOM_COMPILE_COMMAND="make helper-locks" $(VENV)/bin/uv pip compile \
			--no-config --index-url https://pypi.org/simple --python-version $$version \
			--generate-hashes --only-binary :all: --quiet $(LOCK_ARGS) \
			-o reconciler/locking/helpers/py$$version.txt reconciler/locking/helpers/pip-tools.in \
			|| exit 1; \
	done

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
