"""Convert BERT checkpoints between the PyTorch and the MXNet/Gluon formats.

Both frameworks build the book's BERT from the same module tree, so a checkpoint holds the same
arrays in both, only a few names differ (NAME_TABLE) and the file format. Weights keep their
layout: Gluon's Dense stores (out, in) like PyTorch's Linear, so nothing is transposed.

    python -m d2lmini.convert bert.small.torch.zip OUT_DIR   # writes OUT_DIR/bert.small.zip
    python -m d2lmini.convert bert.small.zip OUT_DIR         # writes OUT_DIR/bert.small.torch.zip

This is the only module that uses both frameworks. MXNet is imported only when a Gluon file is
read or written, as importing it slows PyTorch down in processes that do not restore PyTorch's
thread count (d2lmini.mxnet does).
"""
import io
import os
import re
import sys
import tempfile
import zipfile

import torch

from . import checkpoints, hub

# Every parameter of BERTModel: PyTorch state_dict key, Gluon parameter name (the name
# save_parameters writes); {i} stands for a block number. Gluon names LayerNorm's parameters
# gamma and beta, its `hidden` is a single Dense with tanh (PyTorch: Sequential(Linear, Tanh)),
# and its masked-LM head has no separate ReLU layer, so the layers after it are numbered one
# lower. The order is the order of both files.
NAME_TABLE = [
    ('encoder.pos_embedding',                   'encoder.pos_embedding'),
    ('encoder.token_embedding.weight',          'encoder.token_embedding.weight'),
    ('encoder.segment_embedding.weight',        'encoder.segment_embedding.weight'),
    ('encoder.blks.{i}.attention.W_q.weight',   'encoder.blks.{i}.attention.W_q.weight'),
    ('encoder.blks.{i}.attention.W_q.bias',     'encoder.blks.{i}.attention.W_q.bias'),
    ('encoder.blks.{i}.attention.W_k.weight',   'encoder.blks.{i}.attention.W_k.weight'),
    ('encoder.blks.{i}.attention.W_k.bias',     'encoder.blks.{i}.attention.W_k.bias'),
    ('encoder.blks.{i}.attention.W_v.weight',   'encoder.blks.{i}.attention.W_v.weight'),
    ('encoder.blks.{i}.attention.W_v.bias',     'encoder.blks.{i}.attention.W_v.bias'),
    ('encoder.blks.{i}.attention.W_o.weight',   'encoder.blks.{i}.attention.W_o.weight'),
    ('encoder.blks.{i}.attention.W_o.bias',     'encoder.blks.{i}.attention.W_o.bias'),
    ('encoder.blks.{i}.addnorm1.ln.weight',     'encoder.blks.{i}.addnorm1.ln.gamma'),
    ('encoder.blks.{i}.addnorm1.ln.bias',       'encoder.blks.{i}.addnorm1.ln.beta'),
    ('encoder.blks.{i}.ffn.dense1.weight',      'encoder.blks.{i}.ffn.dense1.weight'),
    ('encoder.blks.{i}.ffn.dense1.bias',        'encoder.blks.{i}.ffn.dense1.bias'),
    ('encoder.blks.{i}.ffn.dense2.weight',      'encoder.blks.{i}.ffn.dense2.weight'),
    ('encoder.blks.{i}.ffn.dense2.bias',        'encoder.blks.{i}.ffn.dense2.bias'),
    ('encoder.blks.{i}.addnorm2.ln.weight',     'encoder.blks.{i}.addnorm2.ln.gamma'),
    ('encoder.blks.{i}.addnorm2.ln.bias',       'encoder.blks.{i}.addnorm2.ln.beta'),
    ('hidden.0.weight',                         'hidden.weight'),
    ('hidden.0.bias',                           'hidden.bias'),
    ('mlm.mlp.0.weight',                        'mlm.mlp.0.weight'),
    ('mlm.mlp.0.bias',                          'mlm.mlp.0.bias'),
    ('mlm.mlp.2.weight',                        'mlm.mlp.1.gamma'),
    ('mlm.mlp.2.bias',                          'mlm.mlp.1.beta'),
    ('mlm.mlp.3.weight',                        'mlm.mlp.2.weight'),
    ('mlm.mlp.3.bias',                          'mlm.mlp.2.bias'),
    ('nsp.output.weight',                       'nsp.output.weight'),
    ('nsp.output.bias',                         'nsp.output.bias'),
]


def _rules(pairs):
    return [(re.compile(re.escape(src).replace(r'\{i\}', r'(\d+)')), dst) for src, dst in pairs]


_TO_GLUON = _rules(NAME_TABLE)
_TO_TORCH = _rules([(g, t) for t, g in NAME_TABLE])


def _rename(name, rules, framework):
    for pattern, template in rules:
        match = pattern.fullmatch(name)
        if match:
            return template.replace('{i}', match.group(1)) if match.groups() else template
    raise ValueError(f'{name!r} is not a {framework} parameter name of BERTModel '
                     f'(d2lmini.convert.NAME_TABLE lists them all)')


def torch_to_gluon_name(key):
    """The Gluon parameter name of a PyTorch state_dict key of BERTModel."""
    return _rename(key, _TO_GLUON, 'PyTorch')


def gluon_to_torch_name(name):
    """The PyTorch state_dict key of a Gluon parameter name of BERTModel."""
    return _rename(name, _TO_TORCH, 'Gluon')


def torch_to_gluon(params):
    """Rename `{state_dict key: array}` to `{Gluon name: array}`, keeping order and arrays."""
    return {torch_to_gluon_name(k): v for k, v in params.items()}


def gluon_to_torch(params):
    """Rename `{Gluon name: array}` to `{state_dict key: array}`, keeping order and arrays."""
    return {gluon_to_torch_name(k): v for k, v in params.items()}


# ---------------------------------------------------------------------------------------------
# The two file formats, with numpy arrays in between

def read_torch_params(file):
    """The numpy arrays of a PyTorch state_dict file (a path or a file object), by key."""
    state_dict = torch.load(file, map_location='cpu', weights_only=True)
    return {k: v.numpy() for k, v in state_dict.items()}


def torch_params_bytes(params):
    """The bytes torch.save writes for `{key: numpy array}` (the same bytes for the same
    arrays)."""
    buf = io.BytesIO()
    torch.save({k: torch.from_numpy(v) for k, v in params.items()}, buf)
    return buf.getvalue()


def read_gluon_params(path):
    """The numpy arrays of an MXNet parameter file (save_parameters), by name."""
    # d2lmini.mxnet rather than mxnet: it silences MXNet's import noise, sets numpy semantics
    # and gives PyTorch its threads back. Its reader is load_bert_params's: files of MXNet's
    # older ndarray API load too, and bad files get errors that say what to do. Imported here:
    # see the module docstring.
    from .mxnet import _read_params
    params = _read_params(path)
    if not isinstance(params, dict):
        raise ValueError(  # noqa: TRY004 (one error type for every unusable checkpoint)
            f'{path} holds unnamed arrays, not the named parameters of a BERT')
    return {k: v.asnumpy() for k, v in params.items()}


def gluon_params_bytes(params):
    """The bytes save_parameters writes for `{name: numpy array}` (the same bytes for the same
    arrays)."""
    from .mxnet import np, npx
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'pretrained.params')
        npx.save(path, {k: np.array(v, dtype=v.dtype) for k, v in params.items()})
        with open(path, 'rb') as f:
            return f.read()


# ---------------------------------------------------------------------------------------------
# Checkpoint zips: <folder>/vocab.json and <folder>/pretrained.params, the book's layout, where
# the folder of a PyTorch checkpoint ends in .torch (bert.small.torch/) and of MXNet's does not.

def _checkpoint_folder(zf, path):
    """The one folder of the open checkpoint zip `zf`; reads the listing only."""
    files = [info.filename for info in zf.infolist() if not info.is_dir()]
    folders = {name.split('/')[0] for name in files}
    names = sorted(name.split('/', 1)[-1] for name in files)
    if len(folders) != 1 or names != ['pretrained.params', 'vocab.json']:
        raise ValueError(f'{path} is not a BERT checkpoint zip: expected one folder with '
                         f'vocab.json and pretrained.params, found {files}')
    return folders.pop()


def _read_checkpoint_zip(path):
    with zipfile.ZipFile(path) as zf:
        folder = _checkpoint_folder(zf, path)
        return folder, zf.read(f'{folder}/vocab.json'), zf.read(f'{folder}/pretrained.params')


def write_gluon_zip(torch_zip, out_dir):
    """Convert a PyTorch checkpoint zip (folder <name>.torch/) into `<out_dir>/<name>.zip`
    (folder <name>/) for MXNet; return its path. vocab.json is copied unchanged."""
    folder, vocab_json, raw = _read_checkpoint_zip(torch_zip)
    if not folder.endswith('.torch'):
        raise ValueError(f'{torch_zip} holds {folder}/, not a PyTorch checkpoint folder '
                         f'(<name>.torch/): use write_torch_zip to convert MXNet to PyTorch')
    params = torch_to_gluon(read_torch_params(io.BytesIO(raw)))
    name = folder[:-len('.torch')]
    return checkpoints.write_checkpoint_zip(os.path.join(out_dir, f'{name}.zip'), name, vocab_json,
                                    gluon_params_bytes(params))


def write_torch_zip(gluon_zip, out_dir):
    """Convert an MXNet checkpoint zip (folder <name>/) into `<out_dir>/<name>.torch.zip`
    (folder <name>.torch/) for PyTorch; return its path. vocab.json is copied unchanged."""
    folder, vocab_json, raw = _read_checkpoint_zip(gluon_zip)
    if folder.endswith('.torch'):
        raise ValueError(f'{gluon_zip} holds {folder}/, a PyTorch checkpoint folder: use '
                         f'write_gluon_zip to convert PyTorch to MXNet')
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'pretrained.params')
        with open(path, 'wb') as f:
            f.write(raw)
        params = gluon_to_torch(read_gluon_params(path))
    return checkpoints.write_checkpoint_zip(os.path.join(out_dir, f'{folder}.torch.zip'),
                                    f'{folder}.torch', vocab_json, torch_params_bytes(params))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.exit('usage: python -m d2lmini.convert CHECKPOINT.zip OUT_DIR\n'
                 '  <name>.torch.zip (PyTorch) becomes OUT_DIR/<name>.zip (MXNet), and back')
    src, out_dir = argv
    with zipfile.ZipFile(src) as zf:
        folder = _checkpoint_folder(zf, src)
    write = write_gluon_zip if folder.endswith('.torch') else write_torch_zip
    path = write(src, out_dir)
    print(f'wrote {path}: sha1 {hub.sha1_of(path)}')


if __name__ == '__main__':
    main()
