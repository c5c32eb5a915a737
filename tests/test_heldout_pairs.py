"""d2lmini/data/handwritten_pairs.tsv: SNLI-style pairs written by hand, to check that the
reduced-mode model generalises beyond the generator's sentences (the notebooks assert on them;
`python -m tools.evaluate` reports them)."""
import collections
import json
import zipfile
from pathlib import Path

import pytest

from d2lmini.snli import LABELS, read_handwritten_pairs, read_handwritten_rows

ROOT = Path(__file__).resolve().parents[1]


def test_balanced_and_covering_the_phenomena():
    rows = read_handwritten_rows()
    assert len(rows) >= 30
    labels = collections.Counter(r['label'] for r in rows)
    assert set(labels) == set(LABELS) and len(set(labels.values())) == 1
    kinds = {k.strip() for r in rows for k in r['phenomenon'].split(',')}
    assert {'hypernym', 'count', 'action', 'place', 'added place', 'added time'} <= kinds


def test_every_word_is_in_the_bundled_vocabulary():
    # A word outside it would become <unk>: the pair would test something else
    with zipfile.ZipFile(ROOT / 'd2lmini' / 'data' / 'bert.mini.torch.zip') as zf:
        vocab = set(json.loads(zf.read('bert.mini.torch/vocab.json')))
    for r in read_handwritten_rows():
        for side in ('premise', 'hypothesis'):
            words = r[side].split()
            assert r[side] == r[side].lower() and words[-1] == '.', r[side]
            assert set(words) <= vocab, set(words) - vocab


def test_no_pair_is_copied_from_the_generated_corpus():
    with zipfile.ZipFile(ROOT / 'd2lmini' / 'data' / 'snli-mini.zip') as zf:
        text = '\n'.join(zf.read(n).decode().lower() for n in zf.namelist())
    generated = [line.split('\t')[5:7] for line in text.splitlines() if line.count('\t') > 7]
    generated = {(p.replace('.', ' .'), h.replace('.', ' .')) for p, h in generated}
    for r in read_handwritten_rows():
        assert (r['premise'], r['hypothesis']) not in generated


def test_read_as_a_split_and_bad_rows_named(tmp_path):
    premises, hypotheses, labels = read_handwritten_pairs()
    rows = read_handwritten_rows()
    assert premises[0] == rows[0]['premise'] and hypotheses[-1] == rows[-1]['hypothesis']
    assert [LABELS[i] for i in labels] == [r['label'] for r in rows]
    bad = tmp_path / 'pairs.tsv'
    bad.write_text('label\tphenomenon\tpremise\thypothesis\nmaybe\tx\ta dog .\ta cat .\n')
    with pytest.raises(ValueError, match='line 2: expected the columns label'):
        read_handwritten_pairs(bad)
