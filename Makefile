# Two commands on a fresh machine:  make demo  and  make test
# (both create the Python environment and fetch Fashion-MNIST first).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_WORKERS ?= 2

.PHONY: env sandbox data demo test test-fast release clean

env: $(VENV)/.installed sandbox

# bubblewrap for the grading kernels' sandbox: installed when root (as `make data` installs the data package),
# otherwise one line says what to install (grading still runs, with a loud warning, on resource limits only).
sandbox:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's bubblewrap (the grading sandbox) ..."; \
	    apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "採点の隔離に bubblewrap が必要です / grading needs bubblewrap for its sandbox: sudo apt-get install bubblewrap"; fi; }

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

# Fashion-MNIST into Keras's cache: a local copy, Keras's download, or (offline, as root) Debian's package.
data: env
	@$(PY) -m autograder data || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's dataset-fashion-mnist ..."; \
	    apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist && $(PY) -m autograder data --no-download; \
	  else exit 1; fi; }

demo: data
	$(PY) -m autograder demo

# The whole suite, the slow tier (whole kadai4 notebooks graded on the real data) included. --dist loadfile keeps
# each test file on one worker, so a module's shared batch is graded once (xdist's loadgroup does not group under
# pytest 9, whose node ids it can no longer rename).
test: data
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25

# Everything but the slow tier (a minute or two).
test-fast: data
	$(PY) -m pytest -m "not slow"

# Every assignment of course_config, in course order: the course lists them, not this file.
release: data
	ids="$$($(PY) -m autograder assignments)" || exit 1; \
	for a in $$ids; do $(PY) -m autograder release $$a || exit 1; done

clean:
	rm -rf demo-course autograded feedback reports solutions logs gradebook.db grades.csv .pytest_cache
