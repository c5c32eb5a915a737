"""The CPU cores a process may really use (affinity, physical cores, container quotas), and both
tracks running as many threads as those cores unless the user chose: in a fresh Python each, as
the frameworks read their settings once."""
import io
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from d2lmini import threads
from d2lmini.threads import usable_cores

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


def test_physical_cores_counts_hyperthreads_once(monkeypatch):
    siblings = {0: '0,2', 1: '1,3', 2: '0,2', 3: '1,3'}  # two cores, two threads each

    def fake_open(path):
        cpu = int(path.split('/cpu/cpu')[1].split('/')[0])
        return io.StringIO(siblings[cpu] + '\n')

    monkeypatch.setattr(threads.os, 'sched_getaffinity', lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(threads, 'open', fake_open, raising=False)
    assert threads.physical_cores() == 2
    monkeypatch.setattr(threads.os, 'sched_getaffinity', lambda pid: {0, 2})  # one core allowed
    assert threads.physical_cores() == 1


def test_physical_cores_is_none_where_the_system_does_not_tell(monkeypatch):
    def no_file(path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(threads, 'open', no_file, raising=False)
    assert threads.physical_cores() is None


V1_MOUNTS = '''\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
'''
V1_GROUPS = '4:cpuset:/\n3:cpu,cpuacct:/user/jupyter-ann\n0::/user/jupyter-ann\n'
V2_MOUNTS = '30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n'
V2_GROUPS = '0::/user.slice/jupyter-ann.service\n'


def fake_root(tmp_path, mounts, groups, files):
    """A folder that stands for `/`: /proc/self/{mountinfo,cgroup} and cgroup files."""
    for path, text in {'proc/self/mountinfo': mounts, 'proc/self/cgroup': groups,
                       **files}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return str(tmp_path)


V1 = 'sys/fs/cgroup/cpu,cpuacct'
V2 = 'sys/fs/cgroup'


@pytest.mark.parametrize('files, cpus', [
    ({f'{V1}/cpu.cfs_quota_us': '-1\n', f'{V1}/cpu.cfs_period_us': '100000\n',
      f'{V1}/user/jupyter-ann/cpu.cfs_quota_us': '150000\n',
      f'{V1}/user/jupyter-ann/cpu.cfs_period_us': '100000\n'}, 1),  # 1.5 CPUs: 1 thread
    ({f'{V1}/user/jupyter-ann/cpu.cfs_quota_us': '-1\n',
      f'{V1}/user/jupyter-ann/cpu.cfs_period_us': '100000\n'}, None),  # unlimited
    ({f'{V1}/user/cpu.cfs_quota_us': '300000\n', f'{V1}/user/cpu.cfs_period_us': '100000\n',
      f'{V1}/user/jupyter-ann/cpu.cfs_quota_us': '-1\n',
      f'{V1}/user/jupyter-ann/cpu.cfs_period_us': '100000\n'}, 3),  # the parent's quota
    ({}, None),  # no files
])
def test_cgroup_v1_quota(tmp_path, files, cpus):
    assert threads.cgroup_cpu_limit(fake_root(tmp_path, V1_MOUNTS, V1_GROUPS, files)) == cpus


@pytest.mark.parametrize('files, cpus', [
    ({f'{V2}/user.slice/jupyter-ann.service/cpu.max': '200000 100000\n'}, 2),
    ({f'{V2}/user.slice/jupyter-ann.service/cpu.max': '50000 100000\n'}, 1),  # at least 1
    ({f'{V2}/user.slice/jupyter-ann.service/cpu.max': 'max 100000\n',
      f'{V2}/user.slice/cpu.max': 'max 100000\n'}, None),  # unlimited
    ({f'{V2}/user.slice/jupyter-ann.service/cpu.max': 'max 100000\n',
      f'{V2}/user.slice/cpu.max': '400000 100000\n'}, 4),  # the parent's quota
    ({}, None),  # no controller files
])
def test_cgroup_v2_quota(tmp_path, files, cpus):
    assert threads.cgroup_cpu_limit(fake_root(tmp_path, V2_MOUNTS, V2_GROUPS, files)) == cpus


def test_cgroup_quota_as_a_container_sees_it(tmp_path):
    # A cgroup namespace: the process's own cgroup is "/" and is the top of the mount.
    root = fake_root(tmp_path, V2_MOUNTS, '0::/\n', {f'{V2}/cpu.max': '100000 100000\n'})
    assert threads.cgroup_cpu_limit(root) == 1
    # No namespace (older Docker): the full path, with the container's cgroup mounted as the top.
    mounts = '30 23 0:26 /docker/ab12 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n'
    root = fake_root(tmp_path, mounts, '0::/docker/ab12\n', {})
    assert threads.cgroup_cpu_limit(root) == 1


def test_cgroup_quota_absent(tmp_path):
    assert threads.cgroup_cpu_limit(str(tmp_path)) is None  # no /proc: not Linux
    assert threads.cgroup_cpu_limit(fake_root(tmp_path, '', '', {})) is None  # no cgroup mounted


def test_usable_cores_is_the_smallest_limit(monkeypatch):
    monkeypatch.setattr(threads.os, 'sched_getaffinity', lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(threads, 'physical_cores', lambda: 2)
    monkeypatch.setattr(threads, 'cgroup_cpu_limit', lambda: None)
    assert threads.usable_cores() == 2
    monkeypatch.setattr(threads, 'cgroup_cpu_limit', lambda: 1)
    assert threads.usable_cores() == 1
    monkeypatch.setattr(threads, 'cgroup_cpu_limit', lambda: 8)
    monkeypatch.setattr(threads, 'physical_cores', lambda: None)  # no topology: count CPUs
    assert threads.usable_cores() == 4


def test_threads_to_use_keeps_the_users_choice(monkeypatch):
    monkeypatch.setattr(threads, 'usable_cores', lambda: 3)
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        monkeypatch.delenv(var, raising=False)
    assert threads.threads_to_use('MKL_NUM_THREADS') == 3
    monkeypatch.setenv('MKL_NUM_THREADS', '1')
    assert threads.threads_to_use('MKL_NUM_THREADS') is None
    assert threads.threads_to_use() == 3
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    assert threads.threads_to_use() is None


def test_idle_threads_sleep_unless_the_user_chose(monkeypatch):
    for var in threads.WAIT_VARS:
        monkeypatch.delenv(var, raising=False)
    threads.let_idle_threads_sleep('pytest')  # already imported: too late
    assert 'GOMP_SPINCOUNT' not in os.environ
    threads.let_idle_threads_sleep('not_imported_yet')
    assert os.environ['GOMP_SPINCOUNT'] == threads.SPIN_COUNT == '1000'
    for var, value in [('OMP_WAIT_POLICY', 'ACTIVE'), ('GOMP_SPINCOUNT', '300000'),
                       ('KMP_BLOCKTIME', '200')]:
        for v in threads.WAIT_VARS:
            monkeypatch.delenv(v, raising=False)
        monkeypatch.setenv(var, value)
        threads.let_idle_threads_sleep('not_imported_yet')
        assert 'GOMP_SPINCOUNT' not in os.environ or var == 'GOMP_SPINCOUNT'
        assert os.environ[var] == value
