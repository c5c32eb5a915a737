"""Both tracks run as many threads as the cores the process may really use (utils.usable_cores),
unless the user chose: in a fresh Python each, as the frameworks read their settings once."""
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from d2lmini.utils import usable_cores

TORCH = 'from d2lmini import torch as d2l\nimport torch\nprint(torch.get_num_threads())'
MXNET = 'from d2lmini import mxnet as d2l\nimport os\nprint(os.environ["MXNET_OMP_MAX_THREADS"])'
THREAD_VARS = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'MXNET_OMP_MAX_THREADS', 'OMP_WAIT_POLICY',
               'GOMP_SPINCOUNT', 'KMP_BLOCKTIME')


def run(code, prefix=(), **env):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS} | env
    out = subprocess.run([*prefix, sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, check=False, env=env, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[-1]


def test_torch_uses_the_usable_cores_unless_told():
    assert run(TORCH) == str(usable_cores())
    assert run(TORCH, OMP_NUM_THREADS='1') == '1'
    assert run('import torch\ntorch.set_num_threads(1)\n' + TORCH) == '1'  # the user's own


@pytest.mark.parametrize('module', ['torch', pytest.param('mxnet', marks=pytest.mark.mxnet)])
def test_idle_threads_sleep_when_d2lmini_comes_first(module):
    code = f'from d2lmini import {module}\nimport os\nprint(os.environ.get("GOMP_SPINCOUNT"))'
    assert run(code) == '1000'
    assert run(code, OMP_WAIT_POLICY='ACTIVE') == 'None'  # the user's choice
    if module == 'torch':  # too late: the OpenMP runtime came with torch
        assert run(f'import torch\n{code}') == 'None'


def cpu_cgroup_v1():
    top = Path('/sys/fs/cgroup/cpu')
    if os.geteuid() != 0 or not (top / 'cpu.cfs_quota_us').exists() or not shutil.which('unshare'):
        pytest.skip('needs root, a cgroup v1 CPU controller and unshare (as on the CI machine)')
    return top


@pytest.mark.parametrize('code', [TORCH, pytest.param(MXNET, marks=pytest.mark.mxnet)],
                         ids=['torch', 'mxnet'])
def test_a_container_limited_to_one_cpu_runs_one_thread(code):
    # A container's view: a cgroup with a quota of one CPU, its own cgroup namespace, and that
    # cgroup mounted where the CPU controller is.
    top = cpu_cgroup_v1()
    group = top / f'd2lmini-test-{uuid.uuid4().hex[:8]}'
    group.mkdir()
    try:
        (group / 'cpu.cfs_quota_us').write_text(str(int((group / 'cpu.cfs_period_us')
                                                        .read_text())))
        enter = (f'echo $$ > {group}/cgroup.procs && exec unshare --cgroup --mount sh -c '
                 f'\'mount --bind {group} {top} && exec "$0" "$@"\' "$0" "$@"')
        assert run(code, prefix=['sh', '-c', enter]) == '1'
    finally:
        group.rmdir()
