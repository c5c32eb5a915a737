# Two commands do all the setup: `make run` and `make test` create .venv on first use.
#
# Both tracks, with the newest numpy 2, on Python 3.11 to 3.14 (constraints/numpy2.txt). MXNet
# 1.9.1, the last release, asks for numpy < 2: make installs it without its requirements
# (pip install --no-deps) and d2lmini's own layer, d2lmini/mxnet_compat.py, runs it on numpy 2.
# Where MXNet has no wheel (Windows, macOS on arm64), the PyTorch track alone.
#   make test PYTHON=python3.13   another interpreter (after make clean, or with VENV=...)
#   make test SETUP=reference     MXNet as released: Python 3.11 and numpy 1.23.5
#                                 (constraints/full.txt, in .venv-reference)
SETUP ?= numpy2
ifeq ($(SETUP),reference)
PYTHON ?= python3.11
VENV ?= .venv-reference
LOCK := constraints/full.txt
else
PYTHON ?= $(firstword $(foreach p,python3 python3.14 python3.13 python3.12 python3.11,\
	$(if $(shell $(p) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo y),$(p))))
VENV ?= .venv
LOCK := constraints/numpy2.txt
endif
PY := $(VENV)/bin/python
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
# Where MXNet 1.9.1 has a wheel (d2lmini.mxnet_compat.WHEELS).
MXNET_WHEEL := $(filter Linux-x86_64 Linux-aarch64 Darwin-x86_64,$(shell uname -s)-$(shell uname -m))
INSTALLED := $(VENV)/.installed-$(SETUP)
# OpenMP threads that wait for work spin briefly, then sleep (GOMP_SPINCOUNT=1000, about 10 us,
# not 3 ms), as d2lmini sets it when it is imported before the framework
# (d2lmini.threads.let_idle_threads_sleep); exported here for the notebooks' kernels as well. A
# wait setting of yours (OMP_WAIT_POLICY, GOMP_SPINCOUNT, KMP_BLOCKTIME) is kept.
ifeq ($(origin OMP_WAIT_POLICY)$(origin GOMP_SPINCOUNT)$(origin KMP_BLOCKTIME),undefinedundefinedundefined)
export GOMP_SPINCOUNT := 1000
endif
# Says why the MXNet track is left out of this environment and how to get it (empty if it is in).
MXNET_SKIPPED = $(PY) -c 'from d2lmini.mxnet_compat import mxnet_problem as p; p() and print("MXNet track skipped: " + p())'

.PHONY: run test lab editions notebooks site bench bench-shared data checkpoints curve lint lock clean

$(INSTALLED): pyproject.toml $(LOCK)
	@test -n "$(PYTHON_VERSION)" || { echo "make needs Python 3.11 to 3.14$(if $(filter reference,$(SETUP)), (the reference set-up: 3.11)): none found; give one with PYTHON=..."; exit 1; }
	@test "$(SETUP)" != reference || test "$(PYTHON_VERSION)" = 3.11 || { echo "the reference set-up needs Python 3.11 (numpy 1.23.5 has no wheels for $(PYTHON_VERSION))"; exit 1; }
	@echo "Creating $(VENV) with Python $(PYTHON_VERSION) ($(PYTHON)), set-up $(SETUP): $(LOCK)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
ifeq ($(SETUP),reference)
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[dev]' mxnet
else
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[dev]'
	$(if $(MXNET_WHEEL),$(PY) -m pip install --quiet --no-deps -c $(LOCK) mxnet)
endif
	rm -f $(VENV)/.installed-*
	touch $@
	@$(MXNET_SKIPPED)

run: $(INSTALLED)      ## execute every notebook on the bundled data into build/ (editions: build/zh, build/fr)
	$(PY) -m tools.runbook notebooks build
	$(PY) -m tools.i18n html build
	@$(MXNET_SKIPPED)

test: $(INSTALLED)     ## the whole test suite, notebooks included (nbval)
	$(PY) -m pytest
	@$(MXNET_SKIPPED)

lab: $(INSTALLED)      ## open the notebooks in JupyterLab (English, and the editions in zh/ and fr/)
	$(VENV)/bin/jupyter lab notebooks

editions: $(INSTALLED)  ## merge English prose changes into i18n/*/*.po (msgmerge) and write notebooks/{zh,fr}/
	$(PY) -m tools.i18n update

notebooks: $(INSTALLED)  ## re-execute the notebooks in place (stored outputs)
	$(PY) -m tools.runbook notebooks build --in-place

site: $(INSTALLED)     ## the static site from the stored outputs: build/site/index.html
	$(PY) -m tools.site build/site

bench: $(INSTALLED)    ## speed and memory benchmark (JSON lines)
	$(PY) -m tools.bench

bench-shared: $(INSTALLED)  ## each notebook alone, then two of a track at once: time ratios
	$(PY) -m tools.bench_shared notebooks

data: $(INSTALLED)     ## rebuild the bundled reduced SNLI and WikiText zips
	$(PY) -m tools.snligen d2lmini/data
	$(PY) -m tools.wikigen d2lmini/data

checkpoints: $(INSTALLED)  ## rebuild the bundled bert.mini checkpoints (both frameworks)
	$(PY) -m tools.pretrain d2lmini/data

curve: $(INSTALLED)    ## what pretraining buys against its steps (PyTorch, about 30 minutes)
	MPLBACKEND=Agg $(PY) -m tools.curve d2lmini/data/pretraining_curve.tsv

lint: $(INSTALLED)
	$(VENV)/bin/ruff check d2lmini tests notebooks tools

lock: $(INSTALLED)     ## re-resolve constraints/*.txt and environment.yml (UPGRADE=1: newest releases)
	$(PY) -m tools.lock $(if $(UPGRADE),--upgrade)

clean:
	rm -rf build $(VENV)
