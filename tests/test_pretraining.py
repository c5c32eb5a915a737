"""BERT's pretraining data (d2lmini/pretraining.py): reading WikiText, next-sentence pairs,
the masking rule, padding, and clear errors for input that makes no pairs."""
import itertools

import numpy as np
import pytest

from d2lmini import hub, pretraining
from d2lmini.text import RESERVED, Vocab

SPECIAL = ['<unk>', *RESERVED]


def corpus(num_paragraphs=300, seed=0):
    """Paragraphs of 2 to 5 sentences over a small vocabulary, and a foil for every other pair."""
    rng = np.random.default_rng(seed)
    words = [f'w{i}' for i in range(40)]
    paragraphs = [[' '.join(rng.choice(words, rng.integers(3, 9))) + ' .'
                   for _ in range(rng.integers(2, 6))] for _ in range(num_paragraphs)]
    foils = [[f'foil {i} {j} .' if j % 2 else None for j in range(len(p) - 1)]
             for i, p in enumerate(paragraphs)]
    return paragraphs, foils


def vocab_of(paragraphs, foils=()):
    sentences = [s for p in paragraphs for s in p] + [f for fs in foils for f in fs if f]
    return Vocab([s.split() for s in sentences], reserved_tokens=RESERVED)


def test_read_wiki_splits_paragraphs_keeps_full_stops_and_aligns_foils(tmp_path):
    (tmp_path / 'wiki.train.tokens').write_text(
        ' \n = Heading = \n One sentence only . \n The A . b c . d \n e . F g . \n')
    (tmp_path / 'wiki.train.foils').write_text('\n\n\nx y .\tz .\n\n')
    paragraphs, foils = pretraining._read_wiki(tmp_path)
    assert paragraphs == [['the a .', 'b c .', 'd'], ['e .', 'f g .']]
    assert foils == [['x y .', 'z .'], [None]]
    (tmp_path / 'wiki.train.foils').unlink()  # the real WikiText-2: no foils
    assert pretraining._read_wiki(tmp_path)[1] == [[None, None], [None]]


def test_read_wiki_says_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match='unpacked WikiText folder'):
        pretraining._read_wiki(tmp_path)
    (tmp_path / 'wiki.train.tokens').write_text(' = Heading = \n one sentence .\n')
    with pytest.raises(ValueError, match='no paragraph of two sentences'):
        pretraining._read_wiki(tmp_path)
    (tmp_path / 'wiki.train.tokens').write_text('a . b .\n')
    (tmp_path / 'wiki.train.foils').write_text('x .\ty .\n')
    with pytest.raises(ValueError, match='one field per pair'):
        pretraining._read_wiki(tmp_path)


def test_the_bundled_corpus_reads_back(tmp_path, monkeypatch):
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path))
    # tests/tools/test_wikigen.py checks that they are bert.mini's (regenerating takes seconds)
    folder = hub.download_extract('wikitext-2-mini')
    paragraphs, foils = pretraining._read_wiki(folder)
    assert len(paragraphs) == 20000 and all(s.endswith(' .') for p in paragraphs for s in p)
    assert 0.5 < np.mean([f is not None for fs in foils for f in fs]) < 1
    assert len(pretraining._read_wiki(folder, 'valid')[0]) == 500


def test_pairs_are_half_true_next_sentences_half_foils_or_random():
    paragraphs, foils = corpus()
    sentences = [s for p in paragraphs for s in p]
    rng = np.random.default_rng(0)
    pairs = [x for p, f in zip(paragraphs, foils)
             for x in pretraining._get_nsp_data_from_paragraph(p, f, sentences, 64, rng)]
    assert len(pairs) == sum(len(p) - 1 for p in paragraphs)
    labels = np.array([is_next for _, _, is_next in pairs])
    assert 0.45 < labels.mean() < 0.55
    follows = {(a, b) for p in paragraphs for a, b in itertools.pairwise(p)}
    foiled = {(a, f): b for p, fs in zip(paragraphs, foils)
              for (a, b), f in zip(itertools.pairwise(p), fs) if f}
    for a, b, is_next in pairs:
        if is_next:
            assert (a, b) in follows
        else:
            assert (a, b) in foiled or b in sentences  # a foil where there is one, else random
    negatives = [(a, b) for a, b, is_next in pairs if not is_next]
    with_foil = {a for a, _ in foiled}
    assert all(b.startswith('foil') for a, b in negatives if a in with_foil)


def test_pairs_too_long_for_max_len_are_dropped_and_none_fitting_is_an_error():
    paragraphs = [['a b c .', 'd e f g .'], ['h .', 'i .']]
    vocab = vocab_of(paragraphs)
    rng = np.random.default_rng(0)
    pairs = [x for p in paragraphs for x in pretraining._get_nsp_data_from_paragraph(
        p, [None], [s for p in paragraphs for s in p], 7, rng)]
    assert all(len(a.split()) + len(b.split()) + 3 <= 7 for a, b, _ in pairs)
    with pytest.raises(ValueError, match='max_len=4 is too small'):
        pretraining.get_pretraining_data(paragraphs, None, vocab, 4, rng)


@pytest.mark.parametrize('paragraphs', [[], [['one sentence .'], ['another one .']]])
def test_no_pairs_is_an_error(paragraphs):
    with pytest.raises(ValueError, match='paragraphs of two sentences or more'):
        pretraining.get_pretraining_data(paragraphs, None, vocab_of(paragraphs), 64,
                                         np.random.default_rng(0))


def test_masking_follows_bert_over_many_draws():
    paragraphs, foils = corpus(2000)
    vocab = vocab_of(paragraphs, foils)
    data = pretraining.get_pretraining_data(paragraphs, foils, vocab, 64,
                                            np.random.default_rng(1))
    mlm_input, segments, valid_lens, positions, weights, labels, nsp_labels = data
    # The unmasked tokens, packed the same way (the masking changed only picked positions)
    rows = np.arange(len(mlm_input))[:, None]
    tokens = mlm_input.copy()
    tokens[rows, positions] = np.where(weights > 0, labels, tokens[rows, positions])
    picked = weights > 0
    assert (picked.sum(1) == np.maximum(1, np.round(valid_lens * 0.15))).all()
    assert positions.shape[1] == picked.sum(1).max()  # padded to the most predictions
    assert (positions[~picked] == 0).all()            # padding: position 0, weight 0
    assert (positions[picked] < valid_lens[:, None].repeat(positions.shape[1], 1)[picked]).all()
    assert all(len(set(p[w])) == w.sum() for p, w in zip(positions, picked))  # no repeats
    # Special tokens are never picked, and never written in by the 10% of random words
    specials = [vocab[t] for t in RESERVED]
    assert not np.isin(labels[picked], specials).any()
    new = mlm_input[rows, positions][picked]
    random_words = new[(new != labels[picked]) & (new != vocab['<mask>'])]
    assert not np.isin(random_words, specials).any() and len(random_words) > 0
    # 15% of the words picked; of those 80% <mask>, 10% random, 10% unchanged
    words = ((tokens >= len(SPECIAL)) | (tokens == vocab.unk)).sum()
    assert 0.13 < picked.sum() / words < 0.19  # rounding per pair; at least one each
    share_mask = (new == vocab['<mask>']).mean()
    share_kept = (new == labels[picked]).mean()
    assert 0.78 < share_mask < 0.82
    assert 0.09 < share_kept < 0.13  # a few random words are the word itself (1 in 45)
    unpicked = np.ones_like(tokens, dtype=bool)
    unpicked[rows, positions] = ~picked
    assert (mlm_input[unpicked] == tokens[unpicked]).all()
    assert 0.45 < nsp_labels.mean() < 0.55 and set(np.unique(segments)) == {0, 1}


def test_masking_needs_the_reserved_tokens_first():
    paragraphs, _ = corpus(5)
    vocab = Vocab([s.split() for p in paragraphs for s in p],
                  reserved_tokens=['<cls>', '<sep>', '<pad>', '<mask>'])
    with pytest.raises(ValueError, match='must start with <unk>'):
        pretraining.get_pretraining_data(paragraphs, None, vocab, 64, np.random.default_rng(0))


def test_the_same_seed_draws_the_same_examples():
    paragraphs, foils = corpus(50)
    vocab = vocab_of(paragraphs, foils)
    a, b, c = (pretraining.get_pretraining_data(paragraphs, foils, vocab, 64,
                                                np.random.default_rng(s)) for s in (3, 3, 4))
    assert all((x == y).all() for x, y in zip(a, b))
    assert not (a[0] == c[0]).all()


def test_the_stored_curve_reads_as_columns_and_grows_with_pretraining():
    curve = pretraining.pretraining_curve()
    assert list(curve) == ['steps', 'sentence_pairs', 'mlm_accuracy', 'nsp_accuracy',
                           'nli_test_accuracy']
    assert curve['steps'][0] == 0 and np.all(np.diff(curve['steps']) > 0)
    # Untrained, fine-tuning is near chance; the last snapshot (bert.mini's recipe) is not
    assert curve['nli_test_accuracy'][0] < 0.55
    assert curve['nli_test_accuracy'][-1] > 0.85


def test_a_curve_file_without_its_header_is_refused(tmp_path):
    path = tmp_path / 'curve.tsv'
    path.write_text('0\t0\t0.1\t0.5\t0.5\n')
    with pytest.raises(ValueError, match='make curve'):
        pretraining.pretraining_curve(path)
