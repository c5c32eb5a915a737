"""d2lmini: the small helper package behind the d2lmini notebooks.

Framework-free helpers live here; the framework parts are imported as
``from d2lmini import torch as d2l`` or ``from d2lmini import mxnet as d2l``.
"""
