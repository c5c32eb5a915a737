"""How many threads PyTorch and MXNet compute with, and how long idle OpenMP threads wait, on a
machine that others may share (a laptop, a classroom server, a container with a CPU limit).

Both frameworks read these settings once, when they are imported, so d2lmini.torch and
d2lmini.mxnet apply them before they import their framework; a setting of the user's own
(OMP_NUM_THREADS, a framework's variable, a wait setting) is always kept.
"""
import math
import os
import sys


def physical_cores():
    """The CPU cores this process may run on, each counted once however many hardware threads
    it has (PyTorch's default thread count); None where the system does not tell (not Linux)."""
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:  # macOS, Windows
        return None
    cores = set()
    for cpu in cpus:
        # Hardware threads of one core list the same siblings ("0,4", or "0-1"); a core
        # without hyperthreads lists itself.
        path = f'/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list'
        try:
            with open(path) as f:
                cores.add(f.read().strip())
        except OSError:
            return None
    return len(cores) or None


def cgroup_cpu_limit(root='/'):
    """How many CPUs the cgroup CPU quota lets this process use (rounded down, at least 1), or
    None where there is no quota. Containers, JupyterHub and systemd limit a user this way: with
    cgroup v2's `cpu.max` or v1's `cpu.cfs_quota_us` and `cpu.cfs_period_us`, on the process's
    own cgroup or one above it. `root` stands for `/` (tests give a folder of fake files)."""
    try:
        with open(os.path.join(root, 'proc/self/cgroup')) as f:
            groups = [line.rstrip('\n').split(':', 2) for line in f if line.count(':') >= 2]
        with open(os.path.join(root, 'proc/self/mountinfo')) as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None  # not Linux
    limits = []
    for fields in mounts:
        if '-' not in fields:
            continue
        dash = fields.index('-')  # a variable number of optional fields comes before it
        fstype, options = fields[dash + 1], fields[dash + 3].split(',')
        if fstype == 'cgroup2':
            paths = [path for _, ctl, path in groups if ctl == '']
        elif fstype == 'cgroup' and 'cpu' in options:
            paths = [path for _, ctl, path in groups if 'cpu' in ctl.split(',')]
        else:
            continue
        for path in paths:
            limits += _cgroup_quotas(root, fields[3], fields[4], path, fstype == 'cgroup2')
    return max(1, math.floor(min(limits))) if limits else None


def _cgroup_quotas(root, mount_root, mount_point, path, v2):
    """The CPU quotas (in CPUs) of cgroup `path` and of each cgroup above it in this mount."""
    top = os.path.join(root, mount_point.lstrip('/'))
    rel = os.path.relpath(path, mount_root)
    here = os.path.normpath(os.path.join(top, rel))
    if rel.startswith('..') or not os.path.isdir(here):
        here = top  # a container that sees its own cgroup as the top of the mount
    quotas = []
    while True:
        if v2:  # "max 100000" (no limit) or "50000 100000": microseconds per period
            fields = _words(os.path.join(here, 'cpu.max'))
            if fields and fields[0] != 'max':
                quotas.append(int(fields[0]) / int(fields[1]))
        else:  # a quota of -1: no limit
            quota = _words(os.path.join(here, 'cpu.cfs_quota_us'))
            period = _words(os.path.join(here, 'cpu.cfs_period_us'))
            if quota and period and int(quota[0]) > 0:
                quotas.append(int(quota[0]) / int(period[0]))
        if here == top or not here.startswith(top):
            return quotas
        here = os.path.dirname(here)


def _words(path):
    try:
        with open(path) as f:
            return f.read().split()
    except OSError:
        return None


def usable_cores():
    """How many threads to compute with: the CPU cores this process may really use, that is the
    smallest of the CPUs it may run on (its affinity mask), their physical cores and the cgroup
    CPU quota; None where the system tells none of these (not Linux)."""
    counts = [physical_cores(), cgroup_cpu_limit()]
    if hasattr(os, 'sched_getaffinity'):
        counts.append(len(os.sched_getaffinity(0)))
    counts = [c for c in counts if c]
    return min(counts) if counts else None


def threads_to_use(*framework_vars):
    """The thread count d2lmini gives a framework, usable_cores(), or None where the user chose
    one: OMP_NUM_THREADS or one of the framework's own variables `framework_vars` is set."""
    if any(os.environ.get(v) for v in ('OMP_NUM_THREADS', *framework_vars)):
        return None
    return usable_cores()


# The OpenMP runtime's wait settings: GNU's (libgomp, in both the PyTorch and MXNet wheels), the
# standard one, and Intel's (some other builds).
WAIT_VARS = ('OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'KMP_BLOCKTIME')


# Spins of a waiting GNU OpenMP thread before it sleeps: about 10 microseconds (the default is
# 300,000, about 3 ms). Measured with make bench-shared on 2 cores: a notebook alone runs as fast
# as with the default, and each of two NLI notebooks at once takes 1.7 times as long as alone, in
# PyTorch and in MXNet (fair sharing is 2), not 4.4 to 6.8 times (PyTorch) or 16 times (MXNet).
SPIN_COUNT = '1000'


def let_idle_threads_sleep(framework):
    """Ask the OpenMP runtime that `framework` (a module name) will load to put threads that wait
    for work to sleep soon (GOMP_SPINCOUNT=SPIN_COUNT), unless the user set one of `WAIT_VARS`.
    By default they spin for about 3 ms first: on a machine that another notebook or job shares,
    a spinning thread holds a core that the thread it waits for needs, and two notebooks at once
    each took 4.4 to 16 times as long as alone. Sleeping at once (OMP_WAIT_POLICY=PASSIVE) made
    the PyTorch notebook alone 30% slower; a short spin costs nothing measurable. The runtime
    reads the setting once, when it is loaded: nothing is set where the framework was imported
    already."""
    if framework not in sys.modules and not any(v in os.environ for v in WAIT_VARS):
        os.environ['GOMP_SPINCOUNT'] = SPIN_COUNT

