"""Sentences a learner types (d2lmini.sentences), read as the corpus was tokenized."""
import pytest

from d2lmini.sentences import read_pair, unknown_words, words
from d2lmini.text import RESERVED, Vocab, pack_pairs


def make_vocab(tokens=('a', 'man', 'dog', 'runs', 'sleeps', 'the', 'park', '.')):
    return Vocab([list(tokens)], reserved_tokens=RESERVED)


@pytest.mark.parametrize('written, tokens', [
    ('A man is sleeping.', 'a man is sleeping .'),
    ('a man is sleeping .', 'a man is sleeping .'),
    ("The man isn't sleeping, he's awake!", "the man is n't sleeping , he 's awake !"),
    ('It costs 3.50 dollars; 1,000 people agree?', 'it costs 3.50 dollars ; 1,000 people agree ?'),
    ('A t-shirt (red) "sale".', 'a t-shirt ( red ) " sale " .'),
    ('  A\tdog  RUNS.\n', 'a dog runs .'),
    ('The girl\u2019s kite.', "the girl 's kite ."),
])
def test_words_split_punctuation_and_fold_case(written, tokens):
    assert words(written) == tokens.split()


def test_unknown_words_are_named_once_in_order():
    vocab = make_vocab()
    assert unknown_words(vocab, 'A man runs.', 'the zebra runs, a Zebra sleeps .') == [
        'zebra', ',']
    assert unknown_words(vocab, 'The man sleeps.', 'A DOG runs') == []
    # Each word named is one that reaches the model as <unk>
    premise, hypothesis = read_pair('a\tman  Walks.', 'the dog!', 16)
    ids, _, _ = pack_pairs([premise], [hypothesis], vocab, 16)
    assert (ids[0] == vocab.unk).sum() == len(unknown_words(vocab, 'a\tman  Walks.', 'the dog!'))


def test_a_pair_reads_as_the_corpus_and_empty_sentences_are_refused(capsys):
    assert read_pair('A man runs.', 'A man sleeps!', 16) == ('a man runs .', 'a man sleeps !')
    assert capsys.readouterr().out == ''
    for premise, hypothesis, which in [('', 'a man runs .', 'premise'),
                                       ('a man runs .', ' \t', 'hypothesis')]:
        with pytest.raises(ValueError, match=f'the {which} is empty'):
            read_pair(premise, hypothesis, 16)


def test_a_pair_cut_to_max_len_says_so(capsys):
    premise, hypothesis = read_pair('the man runs in the park today .', 'a dog runs .', 10)
    # 8 + 4 tokens and 3 special ones in 10: the longer sentence loses its last word until 7 fit
    assert (premise, hypothesis) == ('the man runs in', 'a dog runs')
    out = capsys.readouterr().out
    assert 'longer than max_len=10' in out and '4 of the premise\'s 8 tokens' in out
    assert "3 of the hypothesis's 4" in out
