"""BERT's pretraining data, with no deep-learning framework: reading WikiText, making
next-sentence pairs, masking tokens for the masked language model.

The names follow the book ("The Dataset for Pretraining BERT"). The book builds every example
as Python lists, one pair at a time; here the pairs are packed with text.pack_pairs and masked
as whole arrays. Every random choice comes from one numpy Generator, so a seed repeats it.
"""
import itertools
import os
from pathlib import Path

import numpy as np

from .text import RESERVED, pack_pairs
from .utils import gc_paused


def _read_wiki(data_dir, split='train'):
    """Read `wiki.<split>.tokens` of a WikiText folder; return `(paragraphs, foils)`.

    A line with two sentences or more (split on ' . ') is a paragraph: a list of lower-cased
    sentences, each ending in '.' (the book's split leaves the full stop on a paragraph's last
    sentence only). d2lmini's generated corpus also has `wiki.<split>.foils`, one line per line
    of text: for each pair of consecutive sentences, a false next sentence or nothing,
    separated by tabs. Without that file (the real WikiText-2) every foil is None.
    """
    path = os.path.join(data_dir, f'wiki.{split}.tokens')
    if not os.path.exists(path):
        raise FileNotFoundError(f'{path} does not exist: data_dir must be an unpacked WikiText '
                                f'folder (d2l.download_extract returns one)')
    with gc_paused():  # a list of every line, then of every paragraph and sentence
        return _paragraphs_and_foils(path, os.path.join(data_dir, f'wiki.{split}.foils'))


def _paragraphs_and_foils(path, foils_path):
    with open(path, encoding='utf-8') as f:
        lines = f.readlines()
    if os.path.exists(foils_path):
        with open(foils_path, encoding='utf-8') as f:
            foil_lines = f.read().split('\n')[:len(lines)]
        if len(foil_lines) != len(lines):
            raise ValueError(f'{foils_path} has {len(foil_lines)} lines for {len(lines)} lines '
                             f'of text: the two files must have a line for each other')
    else:
        foil_lines = [None] * len(lines)
    paragraphs, foils = [], []
    for line, foil_line in zip(lines, foil_lines):
        parts = line.strip().lower().split(' . ')
        if len(parts) < 2:
            continue  # headings, empty lines and one-sentence paragraphs make no pair
        paragraphs.append([p + ' .' for p in parts[:-1]] + parts[-1:])
        pairs = len(parts) - 1
        fields = [None] * pairs if foil_line is None else foil_line.split('\t')
        if len(fields) != pairs:
            raise ValueError(f'{foils_path}: a line of {len(fields)} foils for a paragraph of '
                             f'{pairs + 1} sentences (one field per pair of sentences)')
        foils.append([f or None for f in fields])
    if not paragraphs:
        raise ValueError(f'{path} holds no paragraph of two sentences or more')
    return paragraphs, foils


def _get_next_sentence(sentence, next_sentence, foil, sentences, rng):
    """One pair for next sentence prediction: `(sentence, second, is_next)`.

    Half the time the second sentence is the true next one (is_next 1). Otherwise (is_next 0)
    it is the foil, the true next sentence with one detail changed, where there is one; else a
    random sentence of the corpus, as in the book.
    """
    if rng.random() < 0.5:
        return sentence, next_sentence, 1
    return sentence, foil or sentences[rng.integers(len(sentences))], 0


def _get_nsp_data_from_paragraph(paragraph, foils, sentences, max_len, rng):
    """Next-sentence pairs from one paragraph: one per sentence but the last. A pair that does
    not fit in `max_len` tokens with its `<cls>` and two `<sep>` is dropped, as in the book."""
    nsp_data = []
    for (sentence, next_sentence), foil in zip(itertools.pairwise(paragraph), foils):
        a, b, is_next = _get_next_sentence(sentence, next_sentence, foil, sentences, rng)
        if len(a.split()) + len(b.split()) + 3 <= max_len:
            nsp_data.append((a, b, is_next))
    return nsp_data


def _replace_mlm_tokens(token_ids, pred_positions, mlm_weights, vocab, rng):
    """Replace the tokens at the picked positions: 80% by `<mask>`, 10% by a random word (never
    a special token), 10% left as they are. Returns the new ids and the original ids at the
    picked positions, the labels the model must predict."""
    rows = np.arange(len(token_ids))[:, None]
    mlm_labels = token_ids[rows, pred_positions]
    draw = rng.random(pred_positions.shape)
    random_words = rng.integers(len(RESERVED) + 1, len(vocab), size=pred_positions.shape)
    new = np.where(draw < 0.8, vocab['<mask>'], np.where(draw < 0.9, random_words, mlm_labels))
    mlm_input = token_ids.copy()
    mlm_input[rows, pred_positions] = np.where(mlm_weights > 0, new, mlm_labels)
    return mlm_input, mlm_labels


def _pad_bert_inputs(candidates, num_mlm_preds):
    """The first `num_mlm_preds[i]` positions of row i of `candidates`, padded with position 0
    to the largest count; weights 1 for a real prediction and 0 for padding.

    The book pads to round(0.15 * max_len) predictions; padding only as far as the pair with
    the most predictions needs wastes fewer. (The tokens were padded by pack_pairs already.)
    """
    width = int(num_mlm_preds.max()) if len(num_mlm_preds) else 0
    mlm_weights = np.arange(width) < num_mlm_preds[:, None]
    pred_positions = np.where(mlm_weights, candidates[:, :width], 0)
    return pred_positions, mlm_weights.astype(np.float32)


def _get_mlm_data_from_tokens(token_ids, valid_lens, vocab, rng):
    """Masked-LM inputs for packed pairs (arrays from pack_pairs).

    Picks round(15%) of each pair's tokens, at least one, among its words: never `<cls>`,
    `<sep>` or padding. Returns `(mlm_input, pred_positions, mlm_weights, mlm_labels)`.
    """
    if vocab.idx_to_token[:len(RESERVED) + 1] != ['<unk>', *RESERVED]:
        raise ValueError(f'the vocabulary must start with <unk> and {RESERVED} (Vocab puts them '
                         f'first when given reserved_tokens={RESERVED})')
    n, max_len = token_ids.shape
    is_word = (token_ids >= len(RESERVED) + 1) | (token_ids == vocab.unk)
    is_word &= np.arange(max_len) < valid_lens[:, None]
    num_mlm_preds = np.minimum(np.maximum(1, np.round(valid_lens * 0.15)), is_word.sum(1))
    # Words get random keys below 1, other tokens 2: sorting puts the words first, shuffled
    keys = np.where(is_word, rng.random((n, max_len)), 2.0)
    candidates = np.argsort(keys, axis=1, kind='stable')
    pred_positions, mlm_weights = _pad_bert_inputs(candidates, num_mlm_preds)
    mlm_input, mlm_labels = _replace_mlm_tokens(token_ids, pred_positions, mlm_weights, vocab,
                                                rng)
    return mlm_input, pred_positions, mlm_weights, mlm_labels


def get_pretraining_data(paragraphs, foils, vocab, max_len, rng):
    """Every pretraining example of a corpus, as seven arrays: `(token_ids, segments,
    valid_lens, pred_positions, mlm_weights, mlm_labels, nsp_labels)`.

    Makes the next-sentence pairs of every paragraph, packs them as
    `<cls> a <sep> b <sep>` padded to `max_len`, and masks them. `foils` is _read_wiki's (None:
    no foils, random false sentences); `rng` a numpy Generator.
    """
    if not any(len(p) > 1 for p in paragraphs):
        raise ValueError('no sentence pairs: pretraining needs paragraphs of two sentences or '
                         'more (lists of sentences, as _read_wiki returns them)')
    with gc_paused():  # the pairs of a corpus: many small tuples and strings
        if foils is None:
            foils = [[None] * (len(p) - 1) for p in paragraphs]
        sentences = [s for p in paragraphs for s in p]
        examples = [example for paragraph, p_foils in zip(paragraphs, foils)
                    for example in _get_nsp_data_from_paragraph(paragraph, p_foils, sentences,
                                                                max_len, rng)]
        if not examples:
            raise ValueError(f'max_len={max_len} is too small for any sentence pair with its '
                             f'<cls> and two <sep> tokens: raise max_len')
        firsts, seconds, nsp_labels = zip(*examples)
        token_ids, segments, valid_lens = pack_pairs(list(firsts), list(seconds), vocab,
                                                     max_len)
        mlm_input, pred_positions, mlm_weights, mlm_labels = _get_mlm_data_from_tokens(
            token_ids, valid_lens, vocab, rng)
        return (mlm_input, segments, valid_lens, pred_positions, mlm_weights, mlm_labels,
                np.array(nsp_labels))


CURVE = Path(__file__).with_name('data') / 'pretraining_curve.tsv'


def pretraining_curve(path=CURVE):
    """What pretraining buys, as `make curve` (tools.curve) measured it: a dict from each column
    of the table (`steps`, `sentence_pairs`, `mlm_accuracy`, `nsp_accuracy`,
    `nli_test_accuracy`) to a numpy array, one entry per snapshot of one long bert.mini run.

    MLM and NSP are held-out accuracies (NSP against foils); NLI is the test accuracy of the
    snapshot fine-tuned by the NLI notebook's reduced recipe."""
    table = np.genfromtxt(path, delimiter='\t', names=True)
    if table.ndim != 1 or 'sentence_pairs' not in table.dtype.names:
        raise ValueError(f'{path}: expected a header row and one row per snapshot; rebuild '
                         f'it with `make curve`')
    return {name: table[name] for name in table.dtype.names}
