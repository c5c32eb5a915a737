"""Timing, running sums, live training curves, CPU cores and what the machine can run, shared by
both frameworks."""
import importlib.metadata
import importlib.util
import math
import os
import sys
import time

import numpy as np


class Timer:
    """Record the durations of several runs."""

    def __init__(self):
        self.times = []
        self.start()

    def start(self):
        self.tik = time.perf_counter()

    def stop(self):
        """Stop the timer and return the duration of this run in seconds."""
        self.times.append(time.perf_counter() - self.tik)
        return self.times[-1]

    def avg(self):
        return sum(self.times) / len(self.times)

    def sum(self):
        return sum(self.times)

    def cumsum(self):
        return np.cumsum(self.times).tolist()


class Accumulator:
    """Keep `n` running sums, e.g. of loss, correct predictions and examples."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        if len(args) != len(self.data):
            raise ValueError(f'expected {len(self.data)} values, got {len(args)}')
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


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
# as with the default, and two at once each take 1.8 times as long as alone, not 2.5 to 16 times.
SPIN_COUNT = '1000'


def let_idle_threads_sleep(framework):
    """Ask the OpenMP runtime that `framework` (a module name) will load to put threads that wait
    for work to sleep soon (GOMP_SPINCOUNT=SPIN_COUNT), unless the user set one of `WAIT_VARS`.
    By default they spin for about 3 ms first: on a machine that another notebook or job shares,
    a spinning thread holds a core that the thread it waits for needs, and two notebooks at once
    each took 4 to 16 times as long as alone. Sleeping at once (OMP_WAIT_POLICY=PASSIVE) costs a
    notebook alone a quarter of its speed; a short spin costs nothing. The runtime reads the
    setting once, when it is loaded: nothing is set where the framework was imported already."""
    if framework not in sys.modules and not any(v in os.environ for v in WAIT_VARS):
        os.environ['GOMP_SPINCOUNT'] = SPIN_COUNT


def mxnet_problem():
    """Why the MXNet track cannot run in this environment and what to do, in one message; None
    where it can. MXNet 1.9.1, the last release, imports only with numpy older than 1.24, which
    exists for Python 3.11 at most. Checked without importing MXNet."""
    own_env = ('make an environment of its own with Python 3.11: make clean test PYTHON=python3.11, '
               'or conda env create -f environment.yml')
    if sys.version_info >= (3, 12):
        python = '.'.join(map(str, sys.version_info[:2]))
        why = f'MXNet 1.9.1 needs numpy older than 1.24, which does not exist for Python {python}'
    elif importlib.util.find_spec('mxnet') is None:
        why = 'MXNet is not installed in this environment'
        own_env = ("install it: pip install -e '.[mxnet]' (it brings numpy 1.23.5), "
                   'or with make: make clean test, without TRACKS=torch')
    else:
        numpy = importlib.metadata.version('numpy')
        if tuple(int(p) for p in numpy.split('.')[:2] if p.isdigit()) < (1, 24):
            return None
        why = f'MXNet 1.9.1 needs numpy older than 1.24, and this environment has numpy {numpy}'
    return f'{why}. Use the PyTorch track, or for MXNet {own_env}'


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


class Animator:
    """Plot curves that grow while a model trains.

    In Jupyter the figure is redrawn in place through one display handle, so a
    headless run (nbconvert, nbval) stores a single final figure, not one per
    update. Outside Jupyter it only collects the points (see `fig`).
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale='linear', yscale='linear', fmts=('-', 'm--', 'g-.', 'r:'),
                 figsize=(3.5, 2.5)):
        import matplotlib.pyplot as plt  # imported here: matplotlib is slow to import

        self.fig, self.ax = plt.subplots(figsize=figsize)
        plt.close(self.fig)  # shown through our handle only, not again at the end of the cell
        self.labels = {'xlabel': xlabel, 'ylabel': ylabel, 'xlim': xlim, 'ylim': ylim,
                       'xscale': xscale, 'yscale': yscale}
        self.legend, self.fmts = legend or [], fmts
        self.X, self.Y = None, None
        self.handle = None

    def add(self, x, y):
        """Add one point to each curve: `y` holds one value per curve (None skips one)."""
        if not hasattr(y, '__len__'):
            y = [y]
        if not hasattr(x, '__len__'):
            x = [x] * len(y)
        if self.X is None:
            self.X, self.Y = [[] for _ in y], [[] for _ in y]
        for i, (a, b) in enumerate(zip(x, y)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        self.draw()

    def draw(self):
        ax = self.ax
        ax.cla()
        for xs, ys, fmt in zip(self.X, self.Y, self.fmts):
            ax.plot(xs, ys, fmt)
        ax.set(**{k: v for k, v in self.labels.items() if v is not None})
        if self.legend:
            ax.legend(self.legend)
        ax.grid(True)
        self.fig.tight_layout()
        if _in_notebook():
            from IPython.display import display

            if self.handle is None:
                self.handle = display(self.fig, display_id=True)
            else:
                self.handle.update(self.fig)
