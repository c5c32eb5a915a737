"""Timing, running sums, live training curves and a pause of the garbage collector for building
data sets, shared by both frameworks. (The CPU and thread policy is in threads.py; whether MXNet
can run here, in mxnet_compat.py.)"""
import contextlib
import gc
import time

import numpy as np


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a corpus is turned into many small lists
    and strings, which make no reference cycles. Each collection scans every object the block
    made so far, again and again as the heap grows: on the bundled wikitext-2-mini they took
    three quarters of tokenize's time. Reference counting still frees what is dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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

        # The layout is worked out when the figure is drawn, not on every add: tight_layout()
        # there took 40 of the 75 ms of a point, a quarter of a short pretraining run's time.
        self.fig, self.ax = plt.subplots(figsize=figsize, layout='tight')
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
        if _in_notebook():
            from IPython.display import display

            if self.handle is None:
                self.handle = display(self.fig, display_id=True)
            else:
                self.handle.update(self.fig)
