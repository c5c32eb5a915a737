"""The nbval sanitize patterns (sanitize.cfg): what varies between runs and machines is
replaced before stored and fresh notebook outputs are compared; facts are kept."""
import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

SANITIZE = Path(__file__).with_name('sanitize.cfg')


def sanitize(text):
    # nbval's own parser reads the file, so a format slip shows up as a missing pattern here
    for regex, replace in get_sanitize_patterns(SANITIZE.read_text()):
        text = re.sub(regex, replace, text)
    return text


def test_sanitize_file_has_every_pattern():
    assert len(get_sanitize_patterns(SANITIZE.read_text())) == 20


@pytest.mark.parametrize('line, expected', [
    ("3691.2 examples/sec on [device(type='cuda', index=0), device(type='cuda', index=1)]",
     'N examples/sec on DEVICES'),
    ('88.0 examples/sec on [cpu(0)]\nnext line', 'N examples/sec on DEVICES\nnext line'),
    ("[device(type='cpu')]", '[DEVICES]'),
    ('[gpu(0), gpu(1)]', '[DEVICES]'),
    ("1361.3 sentence pairs/sec on ['cpu(0)']", 'N sentence pairs/sec on DEVICES'),
    ('MLM loss 3.237, NSP loss 0.596', 'MLM loss L, NSP loss L'),
    ('masked-LM loss 5.61 at the start, 3.02 at the end (means of 5 and 50 steps)',
     'masked-LM loss L at the start, L at the end (means of 5 and 50 steps)'),
    ('pretrained  masked-token accuracy 0.273, next-sentence accuracy 0.521',
     'pretrained  masked-token accuracy A, next-sentence accuracy A'),
    ('    top: guitar 0.41  drum 0.12  car 0.05', '    top: TOKENS'),
    ('    P(is next) = 0.93', '    P(is next) = P'),
    ('the true successor is the more probable in 0.72 of 250 held-out paragraphs',
     'the true successor is the more probable in S of 250 held-out paragraphs'),
    ("DATA_HUB['bert.mine']: bert.mine.torch.zip, sha1 907171f93d2ca5c764f079460f33b4d3ef6b7ba0",
     "DATA_HUB['bert.mine']: bert.mine.torch.zip, sha1 SHA1"),
    ("devices: ['cuda:0', 'cuda:1']", 'devices: [DEVICES]'),
    ('[cpu]', '[DEVICES]'),
    ('epoch took 1.23 sec', 'epoch took T sec'),
    ('CPU times: user 1.5 s, sys: 30 ms', 'CPU times: user T sec, sys: T sec'),
    ('<Figure at 0x7f3a2b1c4d50>', '<Figure at 0xADDRESS>'),
    # Learning is checked by the notebooks' own asserts, with margins; exact figures vary
    # between kinds of machine.
    ('loss 0.521, train acc 0.790, test acc 0.779', 'loss L, train acc A, test acc A'),
    ('from scratch  train acc 0.496, test acc 0.492', 'from scratch  train acc A, test acc A'),
    # Probabilities vary in their last digits; the notebooks assert a margin on them instead.
    ('  -> neutral       entailment 0.12  contradiction 0.03  neutral 0.85   (a person: neutral)',
     '  -> neutral       entailment P  contradiction P  neutral P   (a person: neutral)'),
    # Which test pairs are the surest mistakes, and recall and precision, hang on rounding; the
    # notebooks check them with margins. The number of mistakes listed stays compared.
    (('neutral       -> entailment    0.96  A lady walks . / The woman walks .\n'
      'contradiction -> neutral       0.90  A dog runs . / A cat runs .'),
     'TRUE -> PREDICTED P  PAIR\nTRUE -> PREDICTED P  PAIR'),
    ('entailment     recall 0.89  precision 0.86', 'entailment     recall R  precision R'),
    ('neutral        recall 1.00  precision nan', 'neutral        recall R  precision R'),
    # The NLI notebooks' bars are asserted; the figures they check vary in their last digits,
    # and so does which of the hand-written pairs are wrong.
    ('test accuracy 0.917, training loss 0.313', 'test accuracy A, training loss L'),
    (('right on 30 of 36 hand-written pairs (0.83); the ones it gets wrong:\n'
      '  neutral       -> entailment    a man is singing . / a man is singing a song .\n'
      '  entailment    -> neutral       two dogs run . / two animals run .\n'
      'above the bar of 0.72'),
     ('right on N of 36 hand-written pairs (A); the ones it gets wrong: PAIRS\n'
      'above the bar of 0.72')),
    ('right on 36 of 36 hand-written pairs (1.00); the ones it gets wrong:\nabove the bar',
     'right on N of 36 hand-written pairs (A); the ones it gets wrong: PAIRS\nabove the bar'),
    ('39 near misses, 2 entailment-contradiction swaps',
     'N near misses, N entailment-contradiction swaps'),
])
def test_sanitize_replaces_varying_text(line, expected):
    assert sanitize(line) == expected


@pytest.mark.parametrize('line', [
    "train: 5912 pairs, labels {'entailment': 1973, 'contradiction': 1969, 'neutral': 1970}",
    'torch.Size([2, 128]) [3, 5] 128 tokens, 3 sentences, 5 epochs',
    "['<cls>', 'a', 'dog', '<sep>'] gpus are scarce",
    'confusion matrix (3, 3): counts of 494 test pairs',
    'the 5 mistakes the model is surest of: true label -> predicted label, its probability',
    'not in the vocabulary, read as <unk>: banana',
    'premise:    [\'a\', \'girl\', \'is\', \'sleeping\', \'in\', \'the\', \'morning\', \'.\']',
])
def test_sanitize_keeps_facts(line):
    assert sanitize(line) == line
