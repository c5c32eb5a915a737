"""Timer, Accumulator and Animator, outside and inside a Jupyter kernel; CPU cores, container
quotas included; whether MXNet can run."""
import io
import os
import sys
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from d2lmini import utils
from d2lmini.utils import Accumulator, Animator, Timer
from tools.runbook import CurrentEnvKernel


def test_timer_records_each_run():
    timer = Timer()
    time.sleep(0.01)
    first = timer.stop()
    timer.start()
    second = timer.stop()
    assert first >= 0.01 > second >= 0
    assert timer.times == [first, second]
    assert timer.sum() == pytest.approx(first + second)
    assert timer.avg() == pytest.approx((first + second) / 2)
    assert timer.cumsum() == pytest.approx([first, first + second])


def test_accumulator_sums_and_resets():
    acc = Accumulator(3)
    acc.add(1, 2, 3)
    acc.add(0.5, 0, 1)
    assert acc.data == [1.5, 2.0, 4.0]
    assert acc[1] == 2.0
    acc.reset()
    assert acc.data == [0.0, 0.0, 0.0]


def test_accumulator_refuses_a_wrong_number_of_values():
    acc = Accumulator(2)
    with pytest.raises(ValueError, match='expected 2 values, got 3'):
        acc.add(1, 2, 3)
    assert acc.data == [0.0, 0.0]


def test_animator_outside_jupyter_collects_points_silently(capsys):
    anim = Animator(xlabel='epoch', legend=['train loss', 'test acc'], xlim=[1, 3])
    anim.add(1, (0.9, None))  # a None skips that curve, as for test acc between epochs
    anim.add(2, (0.7, 0.6))
    assert anim.X == [[1, 2], [2]]
    assert anim.Y == [[0.9, 0.7], [0.6]]
    assert anim.handle is None
    assert capsys.readouterr() == ('', '')
    assert [len(line.get_xdata()) for line in anim.ax.get_lines()] == [2, 1]
    assert anim.ax.get_xlabel() == 'epoch'


def test_animator_in_a_kernel_shows_one_figure(tmp_path):
    nb = new_notebook(cells=[new_code_cell(
        'from d2lmini.utils import Animator\n'
        "anim = Animator(legend=['loss'])\n"
        'for epoch in range(5):\n'
        '    anim.add(epoch, 1 / (epoch + 1))')])
    NotebookClient(nb, timeout=60, kernel_name='python3', kernel_manager_class=CurrentEnvKernel,
                   resources={'metadata': {'path': str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert [out.output_type for out in outputs] == ['display_data']
    assert 'image/png' in outputs[0].data
    nbformat.validate(nb)


def test_physical_cores_counts_hyperthreads_once(monkeypatch):
    siblings = {0: '0,2', 1: '1,3', 2: '0,2', 3: '1,3'}  # two cores, two threads each

    def fake_open(path):
        cpu = int(path.split('/cpu/cpu')[1].split('/')[0])
        return io.StringIO(siblings[cpu] + '\n')

    monkeypatch.setattr(utils.os, 'sched_getaffinity', lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(utils, 'open', fake_open, raising=False)
    assert utils.physical_cores() == 2
    monkeypatch.setattr(utils.os, 'sched_getaffinity', lambda pid: {0, 2})  # one core allowed
    assert utils.physical_cores() == 1


def test_physical_cores_is_none_where_the_system_does_not_tell(monkeypatch):
    def no_file(path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(utils, 'open', no_file, raising=False)
    assert utils.physical_cores() is None


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
    assert utils.cgroup_cpu_limit(fake_root(tmp_path, V1_MOUNTS, V1_GROUPS, files)) == cpus


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
    assert utils.cgroup_cpu_limit(fake_root(tmp_path, V2_MOUNTS, V2_GROUPS, files)) == cpus


def test_cgroup_quota_as_a_container_sees_it(tmp_path):
    # A cgroup namespace: the process's own cgroup is "/" and is the top of the mount.
    root = fake_root(tmp_path, V2_MOUNTS, '0::/\n', {f'{V2}/cpu.max': '100000 100000\n'})
    assert utils.cgroup_cpu_limit(root) == 1
    # No namespace (older Docker): the full path, with the container's cgroup mounted as the top.
    mounts = '30 23 0:26 /docker/ab12 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n'
    root = fake_root(tmp_path, mounts, '0::/docker/ab12\n', {})
    assert utils.cgroup_cpu_limit(root) == 1


def test_cgroup_quota_absent(tmp_path):
    assert utils.cgroup_cpu_limit(str(tmp_path)) is None  # no /proc: not Linux
    assert utils.cgroup_cpu_limit(fake_root(tmp_path, '', '', {})) is None  # no cgroup mounted


def test_usable_cores_is_the_smallest_limit(monkeypatch):
    monkeypatch.setattr(utils.os, 'sched_getaffinity', lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(utils, 'physical_cores', lambda: 2)
    monkeypatch.setattr(utils, 'cgroup_cpu_limit', lambda: None)
    assert utils.usable_cores() == 2
    monkeypatch.setattr(utils, 'cgroup_cpu_limit', lambda: 1)
    assert utils.usable_cores() == 1
    monkeypatch.setattr(utils, 'cgroup_cpu_limit', lambda: 8)
    monkeypatch.setattr(utils, 'physical_cores', lambda: None)  # no topology: count CPUs
    assert utils.usable_cores() == 4


def test_threads_to_use_keeps_the_users_choice(monkeypatch):
    monkeypatch.setattr(utils, 'usable_cores', lambda: 3)
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        monkeypatch.delenv(var, raising=False)
    assert utils.threads_to_use('MKL_NUM_THREADS') == 3
    monkeypatch.setenv('MKL_NUM_THREADS', '1')
    assert utils.threads_to_use('MKL_NUM_THREADS') is None
    assert utils.threads_to_use() == 3
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    assert utils.threads_to_use() is None


def test_idle_threads_sleep_unless_the_user_chose(monkeypatch):
    for var in utils.WAIT_VARS:
        monkeypatch.delenv(var, raising=False)
    utils.let_idle_threads_sleep('pytest')  # already imported: too late
    assert 'GOMP_SPINCOUNT' not in os.environ
    utils.let_idle_threads_sleep('not_imported_yet')
    assert os.environ['GOMP_SPINCOUNT'] == utils.SPIN_COUNT == '1000'
    for var, value in [('OMP_WAIT_POLICY', 'ACTIVE'), ('GOMP_SPINCOUNT', '300000'),
                       ('KMP_BLOCKTIME', '200')]:
        for v in utils.WAIT_VARS:
            monkeypatch.delenv(v, raising=False)
        monkeypatch.setenv(var, value)
        utils.let_idle_threads_sleep('not_imported_yet')
        assert 'GOMP_SPINCOUNT' not in os.environ or var == 'GOMP_SPINCOUNT'
        assert os.environ[var] == value


def test_mxnet_problem_names_the_cause_and_the_way_out(monkeypatch):
    monkeypatch.setattr(sys, 'version_info', (3, 13, 0))
    problem = utils.mxnet_problem()
    assert 'Python 3.13' in problem and 'numpy' in problem
    assert 'PyTorch track' in problem and 'python3.11' in problem and 'environment.yml' in problem
    assert '\n' not in problem
    monkeypatch.setattr(sys, 'version_info', (3, 11, 7))
    monkeypatch.setattr(utils.importlib.metadata, 'version', lambda name: '2.4.6')
    monkeypatch.setattr(utils.importlib.util, 'find_spec', lambda name: object())
    assert 'numpy 2.4.6' in utils.mxnet_problem()
    monkeypatch.setattr(utils.importlib.metadata, 'version', lambda name: '1.23.5')
    assert utils.mxnet_problem() is None
    monkeypatch.setattr(utils.importlib.util, 'find_spec', lambda name: None)
    assert 'not installed' in utils.mxnet_problem()
