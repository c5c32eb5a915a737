"""MXNet 1.9.1 on numpy 2 and on Python 3.12 and later: d2lmini's own compatibility layer.

Apache MXNet is retired: 1.9.1 (May 2022) is its last release, and nobody will release another.
Its wheel holds no Python-specific binary (its library is loaded with ctypes), so it installs on
any Python 3, but its Python code was written for numpy 1.23 and older: it reads names that
numpy 1.24 and 2.0 removed (`numpy.NaN`, `numpy.int`, `numpy.in1d`, ...), so `import mxnet`
fails on a current numpy. This module is ours, not MXNet's, and changes nothing in MXNet's files.
`d2lmini.mxnet` calls `apply()`, which imports MXNet after two adjustments, each made only where
it is needed (numpy 1.24 or newer; nothing at all on the numpy 1.23.5 that MXNet was released
with):

1. `add_removed_numpy_names()` puts back on the numpy module each removed name that MXNet's
   Python code uses, as what it meant when MXNet was written. A name that this numpy has is
   never replaced (`numpy.bool` is numpy's own on numpy 2), and nothing is warned. The learner's
   numpy gains these names and is otherwise unchanged.
2. `plain_operator_parameters()`: MXNet passes an operator's parameters to its library as text,
   `str(value)`. numpy 2 writes a numpy scalar inside a list as `np.int64(2)` where numpy 1 wrote
   `2`, and the library rejects the text ("Invalid Parameter format for indices expect
   Shape(tuple) but value='[0, np.int64(2)]'"): MXNet's own `split_and_load` does this when a
   batch does not split evenly between devices, and so would a shape of numpy integers. Numpy
   scalars in list and tuple parameters are turned into Python numbers before MXNet writes them.

Where MXNet cannot run at all, `mxnet_problem()` says why and what to do.
"""
import functools
import importlib.util
import math
import platform
import sys
import types

import numpy

MXNET_VERSION = '1.9.1'
# Where MXNet 1.9.1 has a wheel: (platform.system(), platform.machine()).
WHEELS = {('Linux', 'x86_64'), ('Linux', 'aarch64'), ('Darwin', 'x86_64')}
# What MXNet's Python code imports beyond numpy: module -> the package that provides it.
# distutils left the standard library in Python 3.12; setuptools provides it again.
NEEDS = {'requests': 'requests', 'distutils': 'setuptools'}


def numpy_version():
    """numpy's (major, minor)."""
    return tuple(int(p) for p in numpy.__version__.split('.')[:2])


def mxnet_problem():
    """Why the MXNet track cannot run in this environment and what to do, in one message; None
    where it can. Checked without importing MXNet."""
    system, machine = platform.system(), platform.machine()
    if importlib.util.find_spec('mxnet') is None:
        if (system, machine) not in WHEELS:
            return (f'MXNet {MXNET_VERSION}, its last release, has no wheel for {system} '
                    f'{machine}. Use the PyTorch track'
                    + (', or for MXNet WSL (Linux)' if system == 'Windows' else ''))
        return ('MXNet is not installed in this environment: install it with '
                f'pip install --no-deps mxnet=={MXNET_VERSION} (--no-deps: it asks for numpy < 2, '
                "which d2lmini's layer makes unnecessary), or with make: make clean test")
    missing = [package for module, package in NEEDS.items()
               if importlib.util.find_spec(module) is None]
    if missing:
        return (f'MXNet needs {" and ".join(missing)}, not installed in this environment: '
                f'pip install {" ".join(missing)}')
    return None


# ---------------------------------------------------------------------------------------------
# 1. Names that numpy removed and MXNet 1.9.1 uses (tests/test_mxnet_compat.py finds every numpy
# name that MXNet's code reads and checks that each resolves).

_NEP32 = ('In accordance with NEP 32, the function {} was removed from NumPy version 1.20.  A '
          'replacement for this function is available in the numpy_financial library: '
          'https://pypi.org/project/numpy-financial')


def _removed_financial(name):
    """What numpy 1.20 to 1.23 gave for a financial function: one that says where it went.
    MXNet lists them among the functions it hands over to numpy, and never calls them."""
    def removed(*args, **kwargs):
        raise RuntimeError(_NEP32.format(name))
    removed.__name__ = removed.__qualname__ = name
    return removed


def _removed_names():
    """{name: what it meant} for the numpy names that MXNet 1.9.1 uses and numpy 1.24 or 2.0
    removed."""
    def in1d(ar1, ar2, assume_unique=False, invert=False, *, kind=None):
        """numpy.in1d: numpy.isin on the flattened first array."""
        return numpy.isin(numpy.asarray(ar1).ravel(), ar2, assume_unique=assume_unique,
                          invert=invert, **({} if kind is None else {'kind': kind}))

    def msort(a):
        """numpy.msort: a copy sorted along the first axis."""
        return numpy.sort(a, axis=0)

    names = {
        # Aliases of Python's own types (removed in numpy 1.24; numpy 2 has `bool` again, as
        # its numpy.bool_, which means the same as a dtype).
        'bool': bool, 'int': int,
        # Constants (removed in numpy 2.0).
        'Inf': math.inf, 'NaN': math.nan, 'NAN': math.nan, 'PINF': math.inf,
        'NINF': -math.inf, 'PZERO': 0.0, 'NZERO': -0.0,
        # Functions (removed in numpy 2.0 or later), as their documented equivalents.
        'alltrue': numpy.all, 'sometrue': numpy.any, 'product': numpy.prod,
        'round_': numpy.round, 'in1d': in1d, 'msort': msort,
        'trapz': getattr(numpy, 'trapezoid', None) or numpy.trapz,  # renamed in numpy 2.0
        # numpy.compat.basestring (numpy.compat went with numpy 2.0).
        'compat': types.SimpleNamespace(basestring=str, long=int, unicode=str),
    }
    names |= {name: _removed_financial(name)
              for name in ('mirr', 'npv', 'pmt', 'ppmt', 'pv', 'rate')}
    return names


def _has(module, name):
    """Whether `module` has `name`, without the warnings that numpy's module __getattr__ gives
    for removed names, and without importing a submodule that is not loaded yet."""
    if name in vars(module):
        return True
    if importlib.util.find_spec(f'{module.__name__}.{name}') is not None:
        return True  # a submodule that numpy loads on first use
    getattr_ = vars(module).get('__getattr__')
    if getattr_ is None:
        return False
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            getattr_(name)
        except AttributeError:
            return False
    return True


def add_removed_numpy_names():
    """Set on numpy each name of `_removed_names` that it lacks; return the names set."""
    added = []
    for name, value in _removed_names().items():
        if not _has(numpy, name):
            setattr(numpy, name, value)
            added.append(name)
    return added


# ---------------------------------------------------------------------------------------------
# 2. Operator parameters as MXNet meant them to be written.

def _plain(value):
    """`value` with numpy scalars inside lists and tuples turned into Python numbers."""
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value.item() if isinstance(value, numpy.generic) else value


def _plain_vals(invoke, index):
    """`invoke` (MXNet's call of an operator), with the parameter values, its argument number
    `index`, written plainly."""
    @functools.wraps(invoke)
    def call(*args):
        vals = args[index]
        if any(isinstance(v, (list, tuple)) for v in vals):
            args = (*args[:index], [_plain(v) for v in vals], *args[index + 1:])
        return invoke(*args)
    call.d2lmini_plain = True
    return call


def plain_operator_parameters():
    """Make MXNet write numpy scalars in list and tuple parameters as numbers. MXNet's generated
    operator functions look `_imperative_invoke` (arrays) and `_symbol_creator` (symbols) up in
    the modules that define them, so replacing the two names there covers every operator."""
    from mxnet.ndarray import register as nd_register
    from mxnet.symbol import register as sym_register

    for module, name, index in ((nd_register, '_imperative_invoke', 3),
                                (sym_register, '_symbol_creator', 4)):
        invoke = getattr(module, name)
        if not getattr(invoke, 'd2lmini_plain', False):
            setattr(module, name, _plain_vals(invoke, index))


def apply():
    """Import MXNet, with the numpy names it needs on numpy 1.24 and newer and, on numpy 2, its
    operator parameters written as numpy 1 wrote them; return the mxnet module."""
    if numpy_version() >= (1, 24) and 'mxnet' not in sys.modules:
        add_removed_numpy_names()
    import mxnet

    if numpy_version() >= (2, 0):
        plain_operator_parameters()
    return mxnet
