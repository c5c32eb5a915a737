"""The install paths agree: pyproject.toml (ranges), constraints/ (the exact versions CI tests),
environment.yml, the Makefile, the README's commands and CI."""
import importlib.metadata
import re
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from d2lmini import mxnet_compat
from tests.conftest import SETUP_INDEPENDENT
from tools import lock

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
PY311, PY313 = {'python_version': '3.11'}, {'python_version': '3.13'}


def requirements(extra=None):
    """Requirements of the core (extra=None) or of one extra, with d2lmini[...] expanded."""
    reqs = PROJECT['dependencies'] if extra is None else PROJECT['optional-dependencies'][extra]
    out = []
    for req in map(Requirement, reqs):
        if req.name == PROJECT['name']:
            for sub in req.extras:
                out += requirements(sub)
        else:
            out.append(req)
    return out


def applies(req, env):
    return req.marker is None or req.marker.evaluate(env)


def test_requires_python_admits_311_to_314():
    spec = SpecifierSet(PROJECT['requires-python'])
    assert all(spec.contains(v) for v in ('3.11', '3.12', '3.13', '3.14', '3.15'))


def test_pyproject_declares_ranges_not_pins():
    # A pin would replace a student's own numpy or matplotlib; pins live in constraints/.
    for extra in [None, 'torch', 'mxnet', 'notebooks', 'test']:
        for req in requirements(extra):
            assert not any(s.operator == '==' for s in req.specifier), (extra, str(req))


def test_both_tracks_admit_numpy_2_on_every_python():
    for env in (PY311, PY313):
        reqs = [r for r in requirements() + requirements('all') if applies(r, env)]
        numpy = [r.specifier for r in reqs if r.name == 'numpy']
        assert numpy and all(s.contains('2.4.6') and s.contains('1.23.5') for s in numpy)


def test_mxnet_extra_lists_what_mxnet_needs_but_not_mxnet():
    # MXNet's own requirement numpy < 2 would hold numpy back: it is installed with --no-deps.
    reqs = {r.name: r for r in requirements('mxnet')}
    assert set(reqs) == {'requests', 'setuptools'}
    assert applies(reqs['requests'], PY311) and applies(reqs['requests'], PY313)
    # distutils is in the standard library up to Python 3.11; setuptools brings it back after
    assert reqs['setuptools'].marker == Marker("python_version >= '3.12'")
    assert not applies(reqs['setuptools'], PY311) and applies(reqs['setuptools'], PY313)


def test_constraints_pin_exact_versions_that_pyproject_admits():
    for name, (extras, numpy, _, _) in lock.SETUPS.items():
        pins = lock.read_pins(lock.path_of(name))
        assert SpecifierSet(numpy).contains(pins['numpy']), name
        for extra in extras.split(','):
            for req in requirements(extra) + requirements():
                if applies(req, PY311):
                    assert req.specifier.contains(pins[canonicalize_name(req.name)]), (name, req)
    full, numpy2 = (lock.read_pins(lock.path_of(n)) for n in ('full', 'numpy2'))
    assert full['numpy'] == '1.23.5' and full['mxnet'] == numpy2['mxnet'] == '1.9.1'
    assert lock.MXNET == f'mxnet=={mxnet_compat.MXNET_VERSION}'
    assert numpy2['numpy'].startswith('2.')
    assert full['torch'] == numpy2['torch'], 'one torch build for both set-ups'


def test_environment_yml_is_generated_from_the_full_constraints():
    assert (ROOT / 'environment.yml').read_text() == lock.environment_yml('3.11')
    assert 'on Python 3.11:' in lock.path_of('full').read_text().splitlines()[0]


def installed(name):
    """The version that imports find first (setuptools puts the copies it vendors on sys.path
    later), without a local build tag (torch 2.13.0+cpu); None if not installed."""
    try:
        return importlib.metadata.version(name).split('+')[0]
    except importlib.metadata.PackageNotFoundError:
        return None


def test_this_environment_has_the_locked_versions():
    name = 'full' if installed('numpy').startswith('1.') else 'numpy2'
    pins = lock.read_pins(lock.path_of(name))
    differ = {n: (installed(n), v) for n, v in pins.items()
              if installed(n) not in (None, v) and n not in ('pip', 'setuptools')}
    assert differ == {}, f'installed != constraints/{name}.txt (run make clean test)'


def test_makefile_installs_from_the_constraints():
    makefile = (ROOT / 'Makefile').read_text()
    assert 'SETUP ?= numpy2\n' in makefile
    assert 'LOCK := constraints/full.txt\n' in makefile  # SETUP=reference
    assert 'LOCK := constraints/numpy2.txt\n' in makefile
    assert all(extras == 'dev' for extras, _, _, _ in lock.SETUPS.values())
    # the reference: MXNet with its own requirements; numpy 2: MXNet apart, without them
    assert "pip install --quiet -c $(LOCK) -e '.[dev]' mxnet\n" in makefile
    assert "pip install --quiet -c $(LOCK) -e '.[dev]'\n" in makefile
    assert 'pip install --quiet --no-deps -c $(LOCK) mxnet)' in makefile
    wheels = re.search(r'MXNET_WHEEL := \$\(filter ([^,]*),', makefile).group(1).split()
    assert {tuple(w.split('-')) for w in wheels} == mxnet_compat.WHEELS


def test_ci_runs_make_test_in_both_set_ups():
    lines = [ln.strip() for ln in (ROOT / '.ci' / 'run').read_text().splitlines()]
    assert any(re.fullmatch(r'(\w+=\S+ )*make test SETUP=reference', ln) for ln in lines)
    # numpy 2, both tracks, under settings other than the default, without the modules that
    # neither numpy nor those settings can change; then the browser tests, once
    numpy2 = [ln for ln in lines if ln.endswith('make test PYTHON=python3.11')]
    assert len(numpy2) == 2, numpy2
    assert 'OMP_NUM_THREADS=1 MXNET_MKLDNN_ENABLED=0 ' in numpy2[0]
    assert """PYTEST_ADDOPTS='-m "not setup_independent" --ignore=tests/test_site.py'""" in numpy2[0]
    assert numpy2[1] == 'PYTEST_ADDOPTS=tests/test_site.py make test PYTHON=python3.11'


def test_the_setup_independent_modules_exist_and_leave_the_notebooks_in_both():
    assert SETUP_INDEPENDENT and all(path.is_file() for path in SETUP_INDEPENDENT)
    assert all(path.parent.name in ('tests', 'tools') for path in SETUP_INDEPENDENT)
    names = {path.name for path in SETUP_INDEPENDENT}
    framework = {'test_torch.py', 'test_mxnet.py', 'test_mxnet_compat.py', 'test_twins.py',
                 'test_notebooks.py', 'test_setup.py', 'test_site.py'}
    assert not names & framework


def test_readme_quick_start_is_make_run_and_make_test():
    readme = (ROOT / 'README.md').read_text()
    quick = readme.split('## Quick start', 1)[1]
    block = re.search(r'```\w*\n(.*?)```', quick, re.DOTALL).group(1)
    assert block.split('\n')[:-1] == ['make run', 'make test']
