"""The install paths agree: pyproject.toml, environment.yml, the README's commands and CI."""
import re
import tomllib
from pathlib import Path

import yaml  # PyYAML comes with Jupyter (jupyter-events), so the dev environment has it
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']


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


def conda_pip_section():
    env = yaml.safe_load((ROOT / 'environment.yml').read_text())
    assert env['name'] == 'd2lmini'
    assert env['channels'] == ['conda-forge']
    assert env['dependencies'][:2] == ['python=3.11', 'pip']
    (section,) = [d['pip'] for d in env['dependencies'] if isinstance(d, dict)]
    return section


def test_every_extra_pin_is_exact():
    for extra in PROJECT['optional-dependencies']:
        for req in requirements(extra):
            assert str(req.specifier).startswith('==') and len(req.specifier) == 1, (extra, req)


def test_core_pins_are_exact_except_numpy_which_admits_mxnets_numpy():
    for req in requirements():
        if req.name == 'numpy':
            assert req.specifier.contains('1.23.5') and not req.specifier.contains('2.0.0')
        else:
            assert str(req.specifier).startswith('==') and len(req.specifier) == 1, req


def test_environment_yml_pins_exactly_the_pyproject_pins():
    section = conda_pip_section()
    assert section[-1] == '-e .'
    assert len(section) == len(set(section))
    wanted = {str(r) for r in requirements() if r.name != 'numpy'}
    for extra in PROJECT['optional-dependencies']:
        wanted |= {str(r) for r in requirements(extra)}
    assert 'numpy==1.23.5' in wanted
    assert set(section[:-1]) == wanted


def test_torch_users_need_no_mxnet():
    reqs = requirements() + requirements('torch')
    assert 'mxnet' not in {r.name for r in reqs}
    numpy = [r.specifier for r in reqs if r.name == 'numpy']
    assert numpy and all(s.contains('1.26.4') for s in numpy), 'the torch path pins old numpy'


def test_mxnet_extra_pins_the_numpy_it_imports_with():
    pins = {r.name: r.specifier for r in requirements('mxnet')}
    assert pins['numpy'] == SpecifierSet('==1.23.5')
    assert pins['mxnet'] == SpecifierSet('==1.9.1')


def test_ci_runs_make_test():
    lines = [ln.strip() for ln in (ROOT / '.ci' / 'run').read_text().splitlines()]
    assert 'make test' in lines


def test_readme_quick_start_is_make_run_and_make_test():
    readme = (ROOT / 'README.md').read_text()
    quick = readme.split('## Quick start', 1)[1]
    block = re.search(r'```\w*\n(.*?)```', quick, re.DOTALL).group(1)
    assert block.split('\n')[:-1] == ['make run', 'make test']
