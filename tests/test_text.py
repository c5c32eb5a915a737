import json
import random

import numpy as np
import pytest

from d2lmini.text import (BucketBatchSampler, Vocab, bucket_batches, get_tokens_and_segments,
                          pack_pairs, tokenize, truncate_pair_of_tokens, truncated_lengths)

SPECIALS = ['<pad>', '<mask>', '<cls>', '<sep>']


def make_vocab(words=('a', 'man', 'dog', 'runs', 'sleeps', 'the', 'park')):
    return Vocab([list(words)], reserved_tokens=SPECIALS)


def test_tokenize_words_and_chars():
    assert tokenize(['a man  runs ']) == [['a', 'man', 'runs']]
    assert tokenize(['ab'], 'char') == [['a', 'b']]
    with pytest.raises(ValueError, match="'word' or 'char'"):
        tokenize(['x'], 'byte')


def test_vocab_order_lookup_and_back():
    vocab = Vocab([['b', 'a', 'a'], ['c', 'a', 'b']], reserved_tokens=['<pad>'])
    assert vocab.idx_to_token == ['<unk>', '<pad>', 'a', 'b', 'c']
    assert vocab['a'] == 2 and vocab['zebra'] == vocab.unk == 0
    assert vocab[['a', ('b', 'zebra')]] == [2, [3, 0]]
    assert vocab.to_tokens([2, 3]) == ['a', 'b'] and vocab.to_tokens(4) == 'c'
    assert vocab.to_tokens(np.array([[2], [4]])) == [['a'], ['c']]
    assert len(Vocab([['x', 'y', 'x']], min_freq=2)) == 2


def test_vocab_json_round_trip(tmp_path):
    vocab = make_vocab()
    vocab.save(tmp_path / 'vocab.json')
    loaded = Vocab.from_file(tmp_path / 'vocab.json')
    assert loaded.idx_to_token == vocab.idx_to_token
    assert loaded['dog'] == vocab['dog'] and loaded.unk == vocab.unk


@pytest.mark.parametrize('content, message', [
    ({'a': 0}, 'JSON list of token strings'),
    (['<unk>', 'a', 'a'], 'twice'),
    (['a', 'b'], 'no <unk>'),
])
def test_vocab_file_errors(tmp_path, content, message):
    path = tmp_path / 'vocab.json'
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message):
        Vocab.from_file(path)


def test_tokens_and_segments():
    tokens, segments = get_tokens_and_segments(['a', 'b'], ['c'])
    assert tokens == ['<cls>', 'a', 'b', '<sep>', 'c', '<sep>']
    assert segments == [0, 0, 0, 0, 1, 1]
    assert get_tokens_and_segments(['a'])[1] == [0, 0, 0]


def test_truncation_pops_longer_side_and_hypothesis_on_ties():
    p, h = list('abcdef'), list('xy')
    truncate_pair_of_tokens(p, h, 8)
    assert (p, h) == (list('abc'), list('xy'))
    p, h = list('abc'), list('xyz')
    truncate_pair_of_tokens(p, h, 8)
    assert (p, h) == (list('abc'), list('xy'))


def test_vectorised_truncation_equals_the_loop():
    rng = random.Random(0)
    for _ in range(2000):
        lp, lh, max_len = rng.randint(0, 40), rng.randint(0, 40), rng.randint(3, 50)
        p, h = list(range(lp)), list(range(lh))
        truncate_pair_of_tokens(p, h, max_len)
        new_p, new_h = truncated_lengths([lp], [lh], max_len)
        assert (new_p[0], new_h[0]) == (len(p), len(h)), (lp, lh, max_len)
    with pytest.raises(ValueError, match='no room'):
        truncated_lengths([1], [1], 2)


def reference_pack(premise, hypothesis, vocab, max_len):
    """One pair, packed with lists the way the book does it."""
    p, h = premise.lower().split(), hypothesis.lower().split()
    truncate_pair_of_tokens(p, h, max_len)
    tokens, segments = get_tokens_and_segments(p, h)
    pad = max_len - len(tokens)
    return vocab[tokens] + [vocab['<pad>']] * pad, segments + [0] * pad, len(tokens)


def test_pack_pairs_equals_list_packing_across_chunks():
    rng = random.Random(1)
    words = ['a', 'man', 'dog', 'runs', 'sleeps', 'the', 'park', 'unseen']
    vocab = make_vocab()
    premises = [' '.join(rng.choices(words, k=rng.randint(1, 14))).title() for _ in range(300)]
    hypotheses = [' '.join(rng.choices(words, k=rng.randint(1, 9))) for _ in range(300)]
    ids, segs, valid = pack_pairs(premises, hypotheses, vocab, max_len=12, chunk_size=7)
    assert ids.shape == segs.shape == (300, 12) and valid.shape == (300,)
    for i, (p, h) in enumerate(zip(premises, hypotheses)):
        want_ids, want_segs, want_len = reference_pack(p, h, vocab, 12)
        assert ids[i].tolist() == want_ids
        assert segs[i].tolist() == want_segs
        assert valid[i] == want_len


def test_pack_pairs_bad_input():
    vocab = make_vocab()
    with pytest.raises(ValueError, match='2 premises but 1 hypotheses'):
        pack_pairs(['a', 'b'], ['c'], vocab, 8)
    with pytest.raises(ValueError, match='no <pad> token'):
        pack_pairs(['a'], ['b'], Vocab([['a']]), 8)


def test_bucket_batches_cover_all_indices_with_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 60, size=1000)
    batches = bucket_batches(lengths, 32, shuffle=True, rng=rng, pool=10)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    assert len(batches) == 32  # ceil(1000 / 32): only the last batch of a pool is short
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.25 * np.ptp(lengths)  # random batches would spread over ~the full range
    ordered = bucket_batches(lengths, 300, shuffle=False)
    assert [b.tolist() for b in ordered][-1] == list(range(900, 1000))


def test_bucket_sampler_reshuffles_each_epoch_and_is_repeatable():
    lengths = np.arange(100) % 17
    sampler = BucketBatchSampler(lengths, 8, seed=3)
    first, second = list(sampler), list(sampler)
    assert len(first) == len(sampler) == 13
    assert first != second
    assert list(BucketBatchSampler(lengths, 8, seed=3)) == first
    assert all(isinstance(i, int) for i in first[0])
