"""d2lmini/torch.py and d2lmini/mxnet.py are twins: the same public names in the same order, with
the same signatures and the same docstrings, so that a reader can hold them side by side.

Docstrings are compared as the twin notebooks' markdown is: apart from framework words. Where a
reader needs a framework's own facts, a docstring says them in a framework note, a paragraph that
starts with the framework's name and a colon ("PyTorch: ...", "Gluon: ..."); each twin has its
note in the same place, and the notes' words are not compared.

Each module is inspected in its own process, so that neither framework's import affects the
other's (importing MXNet changes PyTorch's thread count).
"""
import json
import subprocess
import sys

import pytest
from test_notebooks import framework_free

pytestmark = pytest.mark.mxnet  # d2lmini.mxnet is one of the twins

INSPECT = '''
import importlib, inspect, json, re, sys
d2l = importlib.import_module(sys.argv[1])
def signature(obj):  # a function as a default value is named, without its address
    text = str(inspect.signature(obj))
    return re.sub(r'<function (\\S+) at 0x[0-9a-f]+>', r'<function \\1>', text)
public = {}
for name in d2l.__all__:
    obj = getattr(d2l, name)
    if inspect.isfunction(obj) or inspect.isclass(obj):
        public[name] = dict(kind='class' if inspect.isclass(obj) else 'function',
                            doc=inspect.getdoc(obj), signature=signature(obj))
    else:
        public[name] = dict(kind=type(obj).__name__)
print(json.dumps(dict(all=d2l.__all__, public=public, hub=sorted(d2l.DATA_HUB),
                      configs=d2l.BERT_CONFIGS, labels=d2l.LABELS)))
'''


def twin_text(doc):
    """What a docstring must share with its twin: framework words made alike, notes blanked."""
    paragraphs = framework_free(doc or '').split('\n\n')
    return '\n\n'.join('FW: (note)' if p.startswith('FW:') else p for p in paragraphs)


def describe(module):
    run = subprocess.run([sys.executable, '-c', INSPECT, module], capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope='module')
def twins():
    return describe('d2lmini.torch'), describe('d2lmini.mxnet')


def test_the_same_public_names_in_the_same_order(twins):
    torch, mxnet = twins
    assert torch['all'] == mxnet['all']
    assert len(torch['all']) == len(set(torch['all']))


def test_the_same_docstrings(twins):
    torch, mxnet = twins
    differ = [name for name in torch['all']
              if twin_text(torch['public'][name].get('doc'))
              != twin_text(mxnet['public'][name].get('doc'))]
    assert differ == []
    missing = [name for name, p in torch['public'].items()
               if p['kind'] in ('class', 'function') and not p['doc']]
    assert missing == []


def test_twin_text_leaves_out_framework_words_and_notes_only():
    doc = 'Load it for torch.\n\nPyTorch: on devices[0].'
    assert twin_text(doc) == twin_text('Load it for mxnet.\n\nGluon: a copy on every device.')
    assert twin_text(doc) != twin_text('Load them for mxnet.\n\nGluon: a copy on every device.')
    assert twin_text(doc) != twin_text('Load it for mxnet.')


def test_the_same_kinds_and_signatures(twins):
    torch, mxnet = twins
    for name in torch['all']:
        t, m = torch['public'][name], mxnet['public'][name]
        assert t['kind'] == m['kind'], name
        assert t.get('signature') == m.get('signature'), name


def test_the_same_hub_names_checkpoint_configs_and_labels(twins):
    torch, mxnet = twins
    assert torch['hub'] == mxnet['hub']
    assert torch['configs'] == mxnet['configs']
    assert torch['labels'] == mxnet['labels']
