"""The twin notebooks stay twins, and the code they teach is the code d2lmini exports.

nbval executes the notebooks themselves (see pyproject.toml); these tests check their text.
"""
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from d2lmini import pretraining, text
from d2lmini.text import RESERVED, Vocab

ROOT = Path(__file__).resolve().parents[1]
TRACKS = {'pytorch': 'torch', 'mxnet': 'mxnet'}
TOPICS = sorted(p.name for p in (ROOT / 'notebooks' / 'pytorch').glob('*.ipynb'))
# Classes and functions each notebook defines in a cell of its own, verbatim from d2lmini.
TAUGHT = {
    'natural-language-inference-bert.ipynb': [
        'load_pretrained_model', 'SNLIBERTDataset', 'BERTClassifier'],
    'bert-pretraining.ipynb': [
        '_WikiTextDataset', '_get_batch_loss_bert', 'train_bert', 'get_bert_encoding'],
}
# Framework-free functions a notebook shows in a markdown code block, verbatim from d2lmini.
SHOWN = {
    'natural-language-inference-bert.ipynb': (text, ['truncate_pair_of_tokens']),
    'bert-pretraining.ipynb': (pretraining, [
        '_get_next_sentence', '_get_nsp_data_from_paragraph', '_replace_mlm_tokens',
        '_pad_bert_inputs', '_get_mlm_data_from_tokens']),
}
# Words that name a framework; twins (notebook markdown, module docstrings) may differ in these.
FRAMEWORK_WORDS = re.compile(r'PyTorch|MXNet/Gluon|MXNet|Gluon|torch|mxnet|pytorch')


def framework_free(text):
    """`text` with every framework word replaced by FW, for comparing twins."""
    return FRAMEWORK_WORDS.sub('FW', text)


def cells(track, topic):
    return json.loads((ROOT / 'notebooks' / track / topic).read_text())['cells']


def test_every_topic_has_both_tracks():
    assert TOPICS, 'no notebooks found'
    assert TOPICS == sorted(TAUGHT), 'list what each notebook teaches in TAUGHT'
    assert TOPICS == sorted(p.name for p in (ROOT / 'notebooks' / 'mxnet').glob('*.ipynb'))


@pytest.mark.parametrize('topic', TOPICS)
def test_twins_have_the_same_cells_and_markdown(topic):
    assert_twins(cells('pytorch', topic), cells('mxnet', topic), 'beyond framework words')


def assert_twins(a, b, what):
    """The cells `a` and `b` of two twins: the same kinds and tags, and the same markdown apart
    from framework words (framework notes aside); `what` ends the message of a difference."""
    shape = [(c['cell_type'], c['metadata'].get('tags', [])) for c in a]
    assert shape == [(c['cell_type'], c['metadata'].get('tags', [])) for c in b]
    for i, (x, y) in enumerate(zip(a, b)):
        if x['cell_type'] != 'markdown' or 'framework-note' in x['metadata'].get('tags', []):
            continue
        norm = [framework_free(''.join(c['source'])) for c in (x, y)]
        assert norm[0] == norm[1], f'markdown cell {i} ({x.get("id")}) differs {what}'


@pytest.mark.parametrize('track', [pytest.param(t, marks=pytest.mark.mxnet) if t == 'mxnet' else t
                                   for t in TRACKS])
@pytest.mark.parametrize('topic', TOPICS)
def test_taught_code_is_the_exported_code(track, topic):
    # Each framework in its own process: importing MXNet changes PyTorch's thread settings.
    code = ('import inspect, json\n'
            f'from d2lmini import {TRACKS[track]} as d2l\n'
            f'names = {TAUGHT[topic]!r}\n'
            'print(json.dumps({n: inspect.getsource(getattr(d2l, n)) for n in names}))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    sources = json.loads(out.stdout.strip().splitlines()[-1])
    cell_texts = [''.join(c['source']) for c in cells(track, topic) if c['cell_type'] == 'code']
    for name, source in sources.items():
        assert source.strip() in cell_texts, f'{track}/{topic} does not show d2l.{name} verbatim'


@pytest.mark.parametrize('track', TRACKS)
@pytest.mark.parametrize('topic', sorted(SHOWN))
def test_shown_code_is_the_exported_code(track, topic):
    module, names = SHOWN[topic]
    text = '\n'.join(''.join(c['source']) for c in cells(track, topic)
                     if c['cell_type'] == 'markdown')
    for name in names:
        source = inspect.getsource(getattr(module, name)).strip()
        assert f'```python\n{source}\n```' in text, f'{track}/{topic} does not show {name} verbatim'


@pytest.mark.parametrize('track', TRACKS)
@pytest.mark.parametrize('topic', ['bert-pretraining.ipynb'])  # the NLI notebook: its own rule
def test_an_edited_copy_of_a_shown_helper_runs_and_is_used(track, topic, monkeypatch):
    # As the notebook tells a learner: run its import cell, copy a helper into a cell (in the
    # MXNet notebook, with onp for np), edit it, and put it in the module's place.
    module, names = SHOWN[topic]
    imports = [''.join(c['source']) for c in cells(track, topic) if c['cell_type'] == 'code'
               and f'from d2lmini import {module.__name__.split(".")[-1]}' in ''.join(c['source'])]
    assert len(imports) == 1, 'one cell imports what the shown helpers need'
    blocks = re.findall(r'```python\n(.*?)\n```', '\n'.join(
        ''.join(c['source']) for c in cells(track, topic) if c['cell_type'] == 'markdown'), re.DOTALL)
    namespace = {'np': numpy} if track == 'pytorch' else {'onp': numpy, 'np': None}
    exec(imports[0], namespace)  # noqa: S102 (the notebook's own cell)
    paragraphs = [[f'w{i} w{i + 1} w{i + 2} .', f'w{i + 3} w{i + 4} .', f'w{i} w{i + 4} .']
                  for i in range(30)]
    vocab = Vocab([s.split() for p in paragraphs for s in p], reserved_tokens=RESERVED)
    expected = module.get_pretraining_data(paragraphs, None, vocab, 16,
                                           numpy.random.default_rng(0))
    for name in names:
        (block,) = [b for b in blocks if b.startswith(f'def {name}(')]
        if track == 'mxnet':
            block = re.sub(r'\bnp\.', 'onp.', block)
        if name == '_get_next_sentence':  # the edit: the true next sentence, always
            block = block.replace('if rng.random() < 0.5:', 'if True:')
        exec(block, namespace)  # noqa: S102 (the notebook's own code)
        monkeypatch.setattr(module, name, namespace[name])
    got = module.get_pretraining_data(paragraphs, None, vocab, 16, numpy.random.default_rng(0))
    assert (got[-1] == 1).all() and not (expected[-1] == 1).all()  # the edit took effect
    assert got[0].shape[0] == expected[0].shape[0] == 60


@pytest.mark.parametrize('track', TRACKS)
@pytest.mark.parametrize('topic', TOPICS)
def test_parameters_cell_and_stored_outputs(track, topic):
    nb = cells(track, topic)
    params = [c for c in nb if 'parameters' in c['metadata'].get('tags', [])]
    assert len(params) == 1, 'exactly one cell tagged "parameters" holds the knobs'
    stored = ''.join(''.join(o.get('text', '')) for o in params[0].get('outputs', []))
    assert stored.startswith('mode: reduced'), 'stored outputs must come from a reduced-mode run'
    text = json.dumps(nb)
    assert 'application/vnd.jupyter.widget' not in text
    assert not re.search(r'"/(?:work|root|home|tmp)/', text), 'outputs carry machine paths'

