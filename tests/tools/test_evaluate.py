"""tools.evaluate: the one-sentence shortcut check of the corpus of squares (issue 23).

A small BERT fine-tuned on the premises alone (or on the hypotheses alone) must stay near
chance on the test split: each sentence of the squares comes with every label equally often.
The full check is `python -m tools.evaluate --one-sentence premise` (and `hypothesis`), with
the notebook's recipe; CI runs a shorter one.
"""
import pytest

pytest.importorskip('torch')

from tools import evaluate

EPOCHS = 2  # the notebook trains 5; 2 already find the triples' premise shortcut (0.52)


@pytest.mark.parametrize('side', ['premise', 'hypothesis'])
def test_bert_reading_one_sentence_alone_stays_near_chance(side, tmp_path):
    fw = evaluate.Torch()
    d2l = fw.d2l
    fw.seed(0)
    bert, vocab = d2l.load_pretrained_model('bert.mini', **d2l.BERT_CONFIGS['bert.mini'],
                                            devices=fw.devices)
    acc = evaluate.one_sentence(fw, bert, vocab, evaluate.squares_dir(tmp_path), side,
                                epochs=EPOCHS)
    assert acc <= 0.40, f'{side} alone: test accuracy {acc:.3f} (chance 1/3)'
