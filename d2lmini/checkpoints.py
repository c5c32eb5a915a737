"""Pretrained BERT checkpoints, for both frameworks: where they come from, the hyperparameters
each was pretrained with, saving a learner's own, and checking that one fits a model.

A checkpoint is a zip in the book's layout: one folder with `vocab.json` and
`pretrained.params`. The ones a learner saves go to the learner's own checkpoint folder (in the
per-user cache), never to the data folder, which a class may share: two learners who save
under the same name never see, replace or delete each other's files.
"""
import json
import re
from pathlib import Path

from . import hub
from .hub import DATA_URL, bundled_url

# The checkpoints of each framework, as DATA_HUB entries (url, sha1); d2lmini.torch and
# d2lmini.mxnet add their own to their DATA_HUB. The book names PyTorch's `*.torch.zip`.
HUB = {
    'torch': {
        'bert.mini': (bundled_url('bert.mini.torch.zip'),
                      'aa91dd212de7d542f5184ed222e77b20edabdc15'),
        'bert.small': (DATA_URL + 'bert.small.torch.zip',
                       'c72329e68a732bef0452e4b96a1c341c8910f81f'),
        'bert.base': (DATA_URL + 'bert.base.torch.zip',
                      '225d66f04cae318b841a13d32af3acc165f253ac'),
    },
    'mxnet': {
        'bert.mini': (bundled_url('bert.mini.zip'), 'fb941674379a8c4c61b0e60e20b3b9b82a3e8576'),
        'bert.small': (DATA_URL + 'bert.small.zip', 'a4e718a47137ccd1809c9107ab4f5edd317bae2c'),
        'bert.base': (DATA_URL + 'bert.base.zip', '7b3820b35da691042e5d34c0971ac3edbd80d3f4'),
    },
}

# The hyperparameters each checkpoint was pretrained with; the model must be built with them.
BERT_CONFIGS = {
    'bert.mini': {'num_hiddens': 128, 'ffn_num_hiddens': 256, 'num_heads': 4, 'num_blks': 2,
                  'dropout': 0.1, 'max_len': 128},
    'bert.small': {'num_hiddens': 256, 'ffn_num_hiddens': 512, 'num_heads': 4, 'num_blks': 2,
                   'dropout': 0.1, 'max_len': 512},
    'bert.base': {'num_hiddens': 768, 'ffn_num_hiddens': 3072, 'num_heads': 12, 'num_blks': 12,
                  'dropout': 0.1, 'max_len': 512},
}


def checkpoint_dir():
    """The learner's own checkpoint folder: `checkpoints` in the per-user cache (on Linux
    ~/.cache/d2lmini/checkpoints, or under $XDG_CACHE_HOME), whatever D2LMINI_DATA_DIR says."""
    return hub.user_cache() / 'checkpoints'


def write_checkpoint_zip(path, folder, vocab_json, params, lock_name=None):
    """Write a checkpoint in the book's layout, `<folder>/vocab.json` and
    `<folder>/pretrained.params` (both given as bytes), as a reproducible zip; return its path."""
    return hub.write_zip(path, {f'{folder}/vocab.json': vocab_json,
                                f'{folder}/pretrained.params': params}, lock_name=lock_name)


def save_checkpoint(name, filename, vocab_json, params, config, data_hub):
    """Save a checkpoint as `filename` (its folder inside: the name without `.zip`) in the
    learner's checkpoint folder, with a record `<filename>.json` of its name, sha1 and
    hyperparameters beside it; register it as `name` in `data_hub` and BERT_CONFIGS. Returns
    the zip's path. Both files appear whole or not at all (written under temporary names, then
    renamed); a save killed between the two leaves a record that no longer matches, which
    register_saved_checkpoint reports."""
    if not re.fullmatch(r'[\w][\w.-]*', name):
        raise ValueError(f'{name!r} cannot name a checkpoint file: use letters, digits, '
                         f'".", "-" and "_", such as "bert.mine"')
    folder = checkpoint_dir()
    with hub.writing(folder, filename):
        folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    with hub.locked(folder, filename):
        write_checkpoint_zip(path, hub._archive_stem(filename), vocab_json, params, filename)
        sha1 = hub.sha1_of(path)
        record = {'name': name, 'sha1': sha1, 'config': dict(config)}
        hub.write_atomic(Path(f'{path}.json'), (json.dumps(record, indent=1) + '\n').encode(),
                         filename)
    data_hub[name] = (path.as_uri(), sha1)
    BERT_CONFIGS[name] = dict(config)
    return path


def register_saved_checkpoint(name, filename, data_hub):
    """Register `name` from the record that save_checkpoint wrote beside `filename` in the
    learner's checkpoint folder (a checkpoint saved in an earlier session)."""
    path = checkpoint_dir() / filename
    try:
        record = json.loads(Path(f'{path}.json').read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise hub._UnknownName(
            f'{name!r} is neither a DATA_HUB name nor a checkpoint saved in your checkpoint '
            f'folder ({path} and its .json record are missing): save one with '
            f'save_pretrained_model (notebook bert-pretraining). To use a checkpoint someone '
            f'shared, copy its two files ({filename} and {filename}.json) into {path.parent}.'
        ) from None
    if not path.is_file() or hub.sha1_of(path) != record['sha1']:
        raise ValueError(f'{path} does not match its record {path}.json (a save was stopped '
                         f'half-way, or the files come from two saves): save it again')
    data_hub[name] = (path.as_uri(), record['sha1'])
    BERT_CONFIGS[name] = record['config']


def _shapes(names, params):
    return ''.join(f'\n    {name} {tuple(params[name].shape)}' for name in names)


def check_params(path, params, expected):
    """Raise one ValueError naming every parameter of the checkpoint file `path` that does not
    fit the model: missing, unexpected or wrongly shaped. `params` (the file's) and `expected`
    (the model's) map parameter names to anything with a `shape`."""
    key = 'encoder.token_embedding.weight'
    if key in params and params[key].shape[0] != expected[key].shape[0]:
        raise ValueError(
            f'{path} embeds {params[key].shape[0]} tokens but the model was built for a '
            f'vocabulary of {expected[key].shape[0]}: build it with vocab_size=len(vocab) for '
            f'the vocab.json beside pretrained.params; if that is what you did, the two files '
            f'come from different checkpoints (delete the folder and download it again)')
    problems = []
    missing = [k for k in expected if k not in params]
    unexpected = [k for k in params if k not in expected]
    wrong = [k for k in expected
             if k in params and tuple(params[k].shape) != tuple(expected[k].shape)]
    if missing:
        problems.append('missing from the checkpoint (name, shape the model needs):'
                        + _shapes(missing, expected))
    if unexpected:
        problems.append('in the checkpoint but not in the model (name, shape):'
                        + _shapes(unexpected, params))
    if wrong:
        problems.append('wrong shape (name, checkpoint shape -> model shape):' + ''.join(
            f'\n    {k} {tuple(params[k].shape)} -> {tuple(expected[k].shape)}' for k in wrong))
    if problems:
        raise ValueError(
            f'{path} does not fit the model:\n  ' + '\n  '.join(problems) + '\nBuild the model '
            'with the hyperparameters the checkpoint was pretrained with (d2l.BERT_CONFIGS '
            'lists them for the hub checkpoints): num_blks sets the number of blocks, '
            'num_hiddens, ffn_num_hiddens and max_len the shapes.')
