"""Where MXNet cannot run (Python 3.12 and later, or an environment with the PyTorch track alone),
its tests and notebooks are skipped with the reason and the way to get them, instead of failing.

Test modules that import MXNet skip themselves (see the top of test_mxnet.py); single tests carry
the `mxnet` marker; the MXNet notebooks (notebooks/mxnet/, run by nbval) are found by folder.
"""
from pathlib import Path

import pytest

from d2lmini.mxnet_compat import mxnet_problem

MXNET_PROBLEM = mxnet_problem()


def pytest_configure(config):
    config.addinivalue_line('markers', 'mxnet: the test needs the MXNet track')


def pytest_collection_modifyitems(config, items):
    if not MXNET_PROBLEM:
        return
    skip = pytest.mark.skip(reason=f'MXNet track skipped: {MXNET_PROBLEM}')
    for item in items:
        path = Path(str(item.path))
        if item.get_closest_marker('mxnet') or (path.suffix == '.ipynb'
                                                 and path.parent.name == 'mxnet'):
            item.add_marker(skip)
