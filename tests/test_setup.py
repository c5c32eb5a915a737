"""The install paths agree: pyproject.toml (ranges), constraints/ (the exact versions CI tests),
environment.yml, the Makefile, the README's commands and CI."""
import importlib.metadata
import importlib.util
import re
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

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
    for extra in [None, 'torch', 'notebooks', 'test']:
        for req in requirements(extra):
            assert not any(s.operator == '==' for s in req.specifier), (extra, str(req))


def test_torch_track_admits_numpy_2_on_every_python():
    for env in (PY311, PY313):
        reqs = [r for r in requirements() + requirements('torch') if applies(r, env)]
        assert 'mxnet' not in {r.name for r in reqs}
        numpy = [r.specifier for r in reqs if r.name == 'numpy']
        assert numpy and all(s.contains('2.4.6') and s.contains('1.26.4') for s in numpy)


def test_mxnet_extra_applies_on_python_311_only_with_its_numpy():
    reqs = requirements('mxnet')
    assert {r.name for r in reqs} == {'mxnet', 'numpy'}
    assert all(r.marker == Marker("python_version < '3.12'") for r in reqs)
    assert all(applies(r, PY311) and not applies(r, PY313) for r in reqs)
    pins = {r.name: r.specifier for r in reqs}
    assert pins['mxnet'] == SpecifierSet('==1.9.1')
    assert pins['numpy'].contains('1.23.5') and not pins['numpy'].contains('1.24.0')


def test_constraints_pin_exact_versions_that_pyproject_admits():
    for name, (extras, numpy, _) in lock.SETUPS.items():
        pins = lock.read_pins(lock.path_of(name))
        assert SpecifierSet(numpy).contains(pins['numpy']), name
        for extra in extras.split(','):
            for req in requirements(extra) + requirements():
                if applies(req, PY311):
                    assert req.specifier.contains(pins[canonicalize_name(req.name)]), (name, req)
    full, torch = (lock.read_pins(lock.path_of(n)) for n in ('full', 'torch'))
    assert full['numpy'] == '1.23.5' and full['mxnet'] == '1.9.1'
    assert 'mxnet' not in torch and torch['numpy'].startswith('2.')
    assert full['torch'] == torch['torch'], 'one torch build for both set-ups'


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
    name = 'full' if importlib.util.find_spec('mxnet') else 'torch'
    pins = lock.read_pins(lock.path_of(name))
    differ = {n: (installed(n), v) for n, v in pins.items()
              if installed(n) not in (None, v) and n not in ('pip', 'setuptools')}
    assert differ == {}, f'installed != constraints/{name}.txt (run make clean test)'


def test_makefile_installs_from_the_constraints():
    makefile = (ROOT / 'Makefile').read_text()
    assert "pip install --quiet -c $(LOCK) -e '.[$(EXTRAS)]'" in makefile
    for name, (extras, _, _) in lock.SETUPS.items():
        assert f'LOCK := constraints/{name}.txt\nEXTRAS := {extras}\n' in makefile


def test_ci_runs_make_test_in_both_set_ups():
    lines = [ln.strip() for ln in (ROOT / '.ci' / 'run').read_text().splitlines()]
    assert any(re.fullmatch(r'(\w+=\S+ )*make test', ln) for ln in lines)
    assert any(re.match(r'(\w+=\S+ )*make test .*TRACKS=torch', ln) for ln in lines)


def test_readme_quick_start_is_make_run_and_make_test():
    readme = (ROOT / 'README.md').read_text()
    quick = readme.split('## Quick start', 1)[1]
    block = re.search(r'```\w*\n(.*?)```', quick, re.DOTALL).group(1)
    assert block.split('\n')[:-1] == ['make run', 'make test']
