"""tests/heldout_pairs.tsv: SNLI-style pairs written by hand, to check that the reduced-mode
model generalises beyond the generator's sentences (`python -m tools.evaluate` reports its accuracy)."""
import collections
import json
import zipfile
from pathlib import Path

from d2lmini.snli import LABELS
from tools.evaluate import read_heldout

ROOT = Path(__file__).resolve().parents[1]


def test_balanced_and_covering_the_phenomena():
    rows = read_heldout()
    assert len(rows) >= 30
    labels = collections.Counter(r['label'] for r in rows)
    assert set(labels) == set(LABELS) and len(set(labels.values())) == 1
    kinds = {k.strip() for r in rows for k in r['phenomenon'].split(',')}
    assert {'hypernym', 'count', 'action', 'place', 'added place', 'added time'} <= kinds


def test_every_word_is_in_the_bundled_vocabulary():
    # A word outside it would become <unk>: the pair would test something else
    with zipfile.ZipFile(ROOT / 'd2lmini' / 'data' / 'bert.mini.torch.zip') as zf:
        vocab = set(json.loads(zf.read('bert.mini.torch/vocab.json')))
    for r in read_heldout():
        for side in ('premise', 'hypothesis'):
            words = r[side].split()
            assert r[side] == r[side].lower() and words[-1] == '.', r[side]
            assert set(words) <= vocab, set(words) - vocab


def test_no_pair_is_copied_from_the_generated_corpus():
    with zipfile.ZipFile(ROOT / 'd2lmini' / 'data' / 'snli-mini.zip') as zf:
        text = '\n'.join(zf.read(n).decode().lower() for n in zf.namelist())
    generated = [line.split('\t')[5:7] for line in text.splitlines() if line.count('\t') > 7]
    generated = {(p.replace('.', ' .'), h.replace('.', ' .')) for p, h in generated}
    for r in read_heldout():
        assert (r['premise'], r['hypothesis']) not in generated
