"""Where MXNet cannot run (Python 3.12 and later, or an environment with the PyTorch track alone),
its tests and notebooks are skipped with the reason and the way to get them, instead of failing.

CI runs the suite in two set-ups (.ci/run): the reference (numpy 1.23.5, default settings) and
numpy 2 with one thread and MXNet without oneDNN. The test modules in SETUP_INDEPENDENT check
what neither numpy's version nor thread settings can change (downloads, the classroom, the
translations, the maintainer tools' reports, lint, thread policy in fresh processes of their own,
a one-sentence model at chance):
they carry the `setup_independent` marker, and the second set-up leaves them out
(`-m "not setup_independent"`). Every other test, the notebooks included, runs in both.

Test modules that import MXNet skip themselves (see the top of test_mxnet.py); single tests carry
the `mxnet` marker; the MXNet notebooks (notebooks/mxnet/, run by nbval) are found by folder.
"""
from pathlib import Path

import pytest

from d2lmini.mxnet_compat import mxnet_problem

MXNET_PROBLEM = mxnet_problem()


TESTS = Path(__file__).resolve().parent
SETUP_INDEPENDENT = [TESTS / name for name in (
    'test_classroom.py', 'test_editions.py', 'test_heldout_pairs.py', 'test_hub.py',
    'test_lint.py', 'test_sanitize.py', 'test_threads.py', 'tools/test_bench.py',
    'tools/test_bench_shared.py', 'tools/test_i18n.py', 'tools/test_runbook.py',
    'tools/test_site_pairs.py', 'tools/test_curve.py',
    # a model that reads one sentence alone stays at chance, whatever the rounding
    'tools/test_evaluate.py')]


def pytest_configure(config):
    config.addinivalue_line('markers', 'mxnet: the test needs the MXNet track')
    config.addinivalue_line('markers', 'setup_independent: numpy and thread settings play no '
                            'part; CI runs it in one set-up (tests/conftest.py)')


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.path)) in SETUP_INDEPENDENT:
            item.add_marker(pytest.mark.setup_independent)
    if not MXNET_PROBLEM:
        return
    skip = pytest.mark.skip(reason=f'MXNet track skipped: {MXNET_PROBLEM}')
    for item in items:
        path = Path(str(item.path))
        if item.get_closest_marker('mxnet') or (path.suffix == '.ipynb'
                                                 and path.parent.name == 'mxnet'):
            item.add_marker(skip)
