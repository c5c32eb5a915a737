"""Sentences a learner types, read the way the corpus was tokenized, with no framework.

SNLI's text (its parse columns) is split Penn Treebank style: punctuation stands apart from the
words ("sleeping ."), and so do clitics ("is n't", "man 's"); d2lmini lower-cases it. A
learner writes "A man isn't sleeping." and means the same: predict_snli, attention_weights and
unknown_words of both tracks read a sentence with `words` first.
"""
import re

from .text import truncate_pair_of_tokens

# Punctuation that SNLI splits off; a full stop or comma between digits (3.5, 1,000) stays.
_PUNCT = re.compile(r'([!?;:"()\[\]{}]|(?<!\d)[.,]|[.,](?!\d))')
_CLITIC = re.compile(r"(?<=\w)(n't|'s|'re|'ve|'ll|'m|'d)\b")


def words(sentence):
    """The tokens of a sentence as the corpus has them: `words('A man is sleeping.')` is
    `['a', 'man', 'is', 'sleeping', '.']`, as `'a man is sleeping .'.split()` is."""
    text = sentence.lower().replace('\u2019', "'")  # a typographic apostrophe as well
    text = _CLITIC.sub(r' \1', _PUNCT.sub(r' \1 ', text))
    return text.split()


def read_pair(premise, hypothesis, max_len):
    """A pair a learner wrote, as the model reads it: both sentences tokenized by `words` and
    joined by spaces. An empty sentence raises ValueError; a pair longer than `max_len` tokens
    (with `<cls>` and two `<sep>`) is cut as in training, and a printed line says so."""
    p_tokens, h_tokens = words(premise), words(hypothesis)
    for name, sentence, tokens in [('premise', premise, p_tokens),
                                   ('hypothesis', hypothesis, h_tokens)]:
        if not tokens:
            raise ValueError(f'the {name} is empty ({sentence!r}): write a sentence, such as '
                             f"'a dog runs in a park .'")
    n_p, n_h = len(p_tokens), len(h_tokens)
    truncate_pair_of_tokens(p_tokens, h_tokens, max_len)
    if len(p_tokens) < n_p or len(h_tokens) < n_h:
        print(f'the pair is longer than max_len={max_len} tokens with <cls> and two <sep>: the '
              f'model reads {len(p_tokens)} of the premise\'s {n_p} tokens and '
              f'{len(h_tokens)} of the hypothesis\'s {n_h}')
    return ' '.join(p_tokens), ' '.join(h_tokens)


def unknown_words(vocab, *sentences):
    """The words of `sentences` that `vocab` lacks, each once, in order of appearance.

    Words are read by `words`, as predict_snli reads them; each one listed here reaches the
    model as `<unk>`, so the model answers about a sentence with a blank in its place.
    """
    found = dict.fromkeys(w for s in sentences for w in words(s))
    return [w for w in found if w not in vocab.token_to_idx]
