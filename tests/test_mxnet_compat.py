"""d2lmini's compatibility layer for MXNet 1.9.1 on current numpy (d2lmini/mxnet_compat.py): every
numpy name that MXNet's installed Python code reads resolves, the layer is silent and adds only
missing names, and operator parameters given as numpy scalars reach MXNet's library as numbers."""
import ast
import functools
import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import numpy
import pytest

from d2lmini import mxnet_compat
from d2lmini.mxnet_compat import mxnet_problem

# Where MXNet looks a numpy name up by a name held in a variable (getattr(numpy, name)): the list
# of functions whose numpy twins it registers as it loads. (numpy/utils.py's _get_np_op also tries
# names on numpy's modules, with None where a name is missing.)
DYNAMIC = {'numpy_dispatch_protocol.py': '_NUMPY_ARRAY_FUNCTION_LIST'}


def numpy_aliases(tree):
    """The names a module binds to numpy (`import numpy as onp`, `import numpy`)."""
    return {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
            for a in node.names if a.name == 'numpy'}


def dotted(node, aliases):
    """'linalg.norm' for the expression `np.linalg.norm` (np one of `aliases`), else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases and parts:
        return '.'.join(reversed(parts))
    return None


def mxnet_numpy_names():
    """{dotted numpy name: files} for every numpy name that MXNet's Python code reads:
    `np.X.Y` expressions, `from numpy import X`, and the names it looks up through a variable."""
    names, dynamic = {}, set()
    root = Path(importlib.util.find_spec('mxnet').origin).parent
    for path in sorted(root.rglob('*.py')):
        rel = path.relative_to(root).as_posix()
        with warnings.catch_warnings():  # MXNet's invalid escapes in strings, on Python 3.12+
            warnings.simplefilter('ignore', SyntaxWarning)
            tree = ast.parse(path.read_text(encoding='utf-8'))
        aliases = numpy_aliases(tree)
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            found = []
            if isinstance(node, ast.Attribute) and not isinstance(parents.get(node),
                                                                  ast.Attribute):
                found = [dotted(node, aliases)]
            elif isinstance(node, ast.ImportFrom) and node.module == 'numpy' and not node.level:
                found = [a.name for a in node.names]
            elif (isinstance(node, ast.Call) and getattr(node.func, 'id', '') in ('getattr',
                                                                                'hasattr')
                  and isinstance(node.args[0], ast.Name) and node.args[0].id in aliases
                  and not isinstance(node.args[1], ast.Constant)):
                dynamic.add(rel)
            elif (isinstance(node, ast.Assign) and DYNAMIC.get(rel)
                  and getattr(node.targets[0], 'id', '') == DYNAMIC[rel]):
                found = ast.literal_eval(node.value)
            for name in filter(None, found):
                names.setdefault(name, set()).add(rel)
    return names, dynamic


def resolves(name):
    try:
        functools.reduce(getattr, name.split('.'), numpy)
    except AttributeError:
        return False
    return True


@pytest.mark.mxnet
def test_every_numpy_name_that_mxnet_reads_resolves():
    import d2lmini.mxnet  # noqa: F401 (applies the layer)

    names, dynamic = mxnet_numpy_names()
    assert len(names) > 200 and 'float32' in names and 'PZERO' in names and 'sometrue' in names
    assert dynamic == set(DYNAMIC), 'MXNet looks numpy names up somewhere this test does not read'
    assert sorted(n for n in names if not resolves(n)) == []
    # and the layer defines no name that MXNet does not read
    assert set(mxnet_compat._removed_names()) <= {n.split('.')[0] for n in names}


def test_the_layer_adds_only_what_this_numpy_lacks_without_a_warning():
    code = ('import warnings; warnings.simplefilter("error")\n'
            'import numpy\n'
            'before = {k: v for k, v in vars(numpy).items()}\n'
            'from d2lmini import mxnet_compat\n'
            'added = mxnet_compat.add_removed_numpy_names()\n'
            'assert all(vars(numpy)[k] is v for k, v in before.items()), "replaced a name"\n'
            'assert set(vars(numpy)) - set(before) == set(added)\n'
            'print(" ".join(sorted(added)))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=False, timeout=60)
    assert out.returncode == 0 and out.stderr == '', out.stderr
    added = set(out.stdout.split())
    if mxnet_compat.numpy_version() < (1, 24):
        assert added == set()
    elif mxnet_compat.numpy_version() >= (2, 0):
        assert {'NaN', 'PZERO', 'int', 'in1d', 'trapz', 'compat'} <= added
        assert 'bool' not in added  # numpy 2's own numpy.bool stays


def test_the_names_mean_what_they_meant():
    names = mxnet_compat._removed_names()
    assert names['int'] is int and names['bool'] is bool
    assert names['NINF'] == -numpy.inf and numpy.isnan(names['NaN'])
    assert str(names['NZERO']) == '-0.0' and str(names['PZERO']) == '0.0'
    assert names['in1d']([[1, 2], [3, 4]], [2, 3]).tolist() == [False, True, True, False]
    assert names['in1d']([1, 2], [2], invert=True).tolist() == [True, False]
    assert names['msort'](numpy.array([[3, 1], [1, 2]])).tolist() == [[1, 1], [3, 2]]
    assert names['trapz']([1, 2, 3]) == 4.0
    assert names['sometrue']([0, 1]) and not names['alltrue']([0, 1])
    assert names['product']([2, 3]) == 6 and names['round_'](2.567, 2) == 2.57
    assert names['compat'].basestring is str
    with pytest.raises(RuntimeError, match='numpy_financial'):
        names['npv'](0.1, [1, 2])


@pytest.mark.mxnet
def test_numpy_scalars_in_operator_parameters_reach_mxnet_as_numbers():
    from d2lmini import mxnet as d2l

    mx = d2l.mx
    two = numpy.int64(2)
    assert mx.nd.zeros(shape=(two, 3)).shape == (2, 3)  # a legacy operator: parameters as text
    assert mx.np.zeros((two, numpy.int32(3))).shape == (2, 3)
    x = mx.np.arange(10).reshape(5, 2)
    assert [p.shape for p in mx.np.split(x, [two], axis=0)] == [(2, 2), (3, 2)]
    parts = mx.gluon.utils.split_and_load(x, [mx.cpu(0), mx.cpu(1)], even_split=False)
    assert [p.shape for p in parts] == [(3, 2), (2, 2)]
    assert mxnet_compat._plain([two, (numpy.float32(0.5), 'a'), 3]) == [2, (0.5, 'a'), 3]
    assert type(mxnet_compat._plain([two])[0]) is int


def test_problem_names_the_cause_and_the_way_out(monkeypatch):
    monkeypatch.setattr(mxnet_compat.platform, 'system', lambda: 'Linux')
    monkeypatch.setattr(mxnet_compat.platform, 'machine', lambda: 'x86_64')
    monkeypatch.setattr(mxnet_compat.importlib.util, 'find_spec', lambda name: object())
    assert mxnet_problem() is None
    monkeypatch.setattr(mxnet_compat.importlib.util, 'find_spec',
                        lambda name: None if name == 'distutils' else object())
    assert 'MXNet needs setuptools' in mxnet_problem()
    assert 'pip install setuptools' in mxnet_problem()
    monkeypatch.setattr(mxnet_compat.importlib.util, 'find_spec', lambda name: None)
    assert 'pip install --no-deps mxnet==1.9.1' in mxnet_problem()
    monkeypatch.setattr(mxnet_compat.platform, 'system', lambda: 'Windows')
    monkeypatch.setattr(mxnet_compat.platform, 'machine', lambda: 'AMD64')
    assert 'no wheel for Windows AMD64' in mxnet_problem() and 'WSL' in mxnet_problem()
    assert '\n' not in mxnet_problem()

