"""d2lmini: the small helper package behind the d2lmini notebooks.

A notebook imports one of the two framework twins as the book's `d2l`:
``from d2lmini import torch as d2l`` or ``from d2lmini import mxnet as d2l``. Each twin offers the
framework-free helpers as well (text.py, snli.py, pretraining.py, hub.py, utils.py, metrics.py,
plots.py), under the same names. This file imports nothing, so that a twin can make its thread
settings (threads.py) and, for MXNet, apply its compatibility layer (mxnet_compat.py) before the
framework is loaded.
"""
