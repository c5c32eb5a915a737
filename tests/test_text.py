import json
import random

import numpy as np
import pytest

from d2lmini import fastpack
from d2lmini.fastpack import truncated_lengths
from d2lmini.text import (
    BucketBatchSampler,
    Vocab,
    bucket_batches,
    get_tokens_and_segments,
    pack_pairs,
    pack_pairs_plain,
    tokenize,
    truncate_pair_of_tokens,
)

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


def test_plain_packer_is_the_book_method():
    vocab = make_vocab()
    premises, hypotheses = ['The man RUNS in the park', ''], ['a dog\tsleeps', 'zebra']
    ids, segs, valid = pack_pairs_plain(premises, hypotheses, vocab, 9)
    assert (ids.dtype, segs.dtype, valid.dtype) == (np.int32, np.uint8, np.int32)
    for i, (p, h) in enumerate(zip(premises, hypotheses)):
        want_ids, want_segs, want_len = reference_pack(p, h, vocab, 9)
        assert (ids[i].tolist(), segs[i].tolist(), valid[i]) == (want_ids, want_segs, want_len)
    assert vocab.to_tokens(ids[0, :valid[0]]) == [
        '<cls>', 'the', 'man', 'runs', '<sep>', 'a', 'dog', 'sleeps', '<sep>']


def drop_premise_first(p_tokens, h_tokens, max_len):
    while len(p_tokens) + len(h_tokens) > max_len - 3:
        (p_tokens or h_tokens).pop()


def test_pack_pairs_runs_a_truncation_rule_of_ones_own():
    vocab = make_vocab()
    premises, hypotheses = ['a man runs in the park'], ['the dog sleeps']
    book = pack_pairs(premises, hypotheses, vocab, 8)
    own = pack_pairs(premises, hypotheses, vocab, 8, truncate=drop_premise_first)
    assert vocab.to_tokens(book[0][0].tolist()) == [
        '<cls>', 'a', 'man', 'runs', '<sep>', 'the', 'dog', '<sep>']
    assert vocab.to_tokens(own[0][0].tolist()) == [
        '<cls>', 'a', 'man', '<sep>', 'the', 'dog', 'sleeps', '<sep>']
    assert own[1][0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1] and own[2].tolist() == [8]
    # The default goes to the fast packer, which gives what the plain one gives
    assert all((a == b).all() for a, b in zip(book, pack_pairs_plain(premises, hypotheses,
                                                                      vocab, 8)))


def test_a_rule_that_leaves_too_much_is_named():
    def keep_all(p_tokens, h_tokens, max_len):
        pass
    with pytest.raises(ValueError, match='keep_all left 11 tokens.*max_len=8'):
        pack_pairs(['a man runs in the park'], ['the dog'], make_vocab(), 8, keep_all)


def test_pack_pairs_equals_list_packing_across_chunks():
    rng = random.Random(1)
    words = ['a', 'man', 'dog', 'runs', 'sleeps', 'the', 'park', 'unseen']
    vocab = make_vocab()
    premises = [' '.join(rng.choices(words, k=rng.randint(1, 14))).title() for _ in range(300)]
    hypotheses = [' '.join(rng.choices(words, k=rng.randint(1, 9))) for _ in range(300)]
    ids, segs, valid = fastpack.pack_pairs(premises, hypotheses, vocab, max_len=12, chunk_size=7)
    assert ids.shape == segs.shape == (300, 12) and valid.shape == (300,)
    for i, (p, h) in enumerate(zip(premises, hypotheses)):
        want_ids, want_segs, want_len = reference_pack(p, h, vocab, 12)
        assert ids[i].tolist() == want_ids
        assert segs[i].tolist() == want_segs
        assert valid[i] == want_len


def assert_packs_like_lists(premises, hypotheses, vocab, max_len, chunk_size):
    ids, segs, valid = fastpack.pack_pairs(premises, hypotheses, vocab, max_len, chunk_size)
    assert (ids.dtype, segs.dtype, valid.dtype) == (np.int32, np.uint8, np.int32)
    for i, (p, h) in enumerate(zip(premises, hypotheses)):
        want_ids, want_segs, want_len = reference_pack(p, h, vocab, max_len)
        assert ids[i].tolist() == want_ids, (p, h)
        assert segs[i].tolist() == want_segs and valid[i] == want_len, (p, h)
    # The plain packer, which a learner reads, gives the very same arrays
    plain = pack_pairs_plain(premises, hypotheses, vocab, max_len)
    for fast, slow in zip((ids, segs, valid), plain):
        assert fast.dtype == slow.dtype and (fast == slow).all()


# Every ASCII character (control and whitespace ones too), characters whose lower case is
# longer or context-dependent, and non-ASCII whitespace.
ALPHABET = ([chr(c) for c in range(128)] + list('      aaeeiiooAAEE')
            + list('éÉßẞİΣΑσﬁKŉ日本\u00a0\u0085\u2003\u3000\u2028'))


def random_text(rng, max_chars):
    return ''.join(rng.choices(ALPHABET, k=rng.randint(0, max_chars)))


def test_pack_pairs_equals_list_packing_on_messy_text():
    """Unicode, control characters, unknown tokens and tokens around the 16-byte key width."""
    rng = random.Random(2)
    captions = [random_text(rng, 70) for _ in range(150)]
    premises = [c for c in captions for _ in range(rng.randint(1, 3))]  # runs, as in SNLI
    hypotheses = [random_text(rng, 40) for _ in premises]
    # Half the sentences give the vocabulary: the other half's tokens are partly unknown.
    vocab = Vocab(tokenize([s.lower() for s in captions[::2] + hypotheses[::2]]),
                  reserved_tokens=SPECIALS)
    lengths = {len(t.encode()) for t in vocab.idx_to_token}
    assert {1, 8, 9, 15, 16, 17} <= lengths and any(not t.isascii() for t in vocab.idx_to_token)
    for max_len, chunk_size in [(64, 50), (20, 1000), (3, 7)]:
        assert_packs_like_lists(premises, hypotheses, vocab, max_len, chunk_size)


def test_pack_pairs_edge_cases():
    vocab = Vocab([['a', 'café', 'x' * 15, 'y' * 16, 'z' * 40]], reserved_tokens=SPECIALS)
    premises = ['', ' \t', 'CAFÉ X' + 'x' * 14, 'y' * 16 + ' ' + 'Z' * 40, 'a\x00 a', 'cafe']
    hypotheses = ['', 'a', 'x' * 16, 'y' * 15 + ' ' + 'z' * 39, 'A\x00', 'CAFÉ']
    assert_packs_like_lists(premises, hypotheses, vocab, 10, 4)
    for pack in (pack_pairs, pack_pairs_plain):
        ids, segs, valid = pack(['', 'a'], ['', ''], vocab, 5)
        assert ids[0].tolist() == vocab[['<cls>', '<sep>', '<sep>', '<pad>', '<pad>']]
        assert valid.tolist() == [3, 4]
        ids, segs, valid = pack([], [], vocab, 6)
        assert ids.shape == segs.shape == (0, 6) and valid.shape == (0,)
        ids, segs, valid = pack(['a a a'], ['a a'], vocab, 3)
        assert vocab.to_tokens(ids[0].tolist()) == ['<cls>', '<sep>', '<sep>']


def test_token_table_finds_every_token_despite_collisions():
    words = [f'{i}{"w" * (i % 18)}' for i in range(5000)]
    vocab = Vocab([words], reserved_tokens=SPECIALS)
    table = fastpack._TokenTable(vocab)
    ids, starts, counts = fastpack._tokenize([' '.join(words), 'nope 7w'], vocab, table)
    assert ids.tolist() == vocab[words] + [vocab.unk, vocab.unk]
    assert starts.tolist() == [0, 5000] and counts.tolist() == [5000, 2]
    # Linear probing was needed: several of the tokens want the same first slot.
    data = [w.encode() for w in words if len(w) < 16]
    lengths = np.array([len(d) for d in data])
    buf = np.frombuffer(b''.join(data) + bytes(16), np.uint8)
    slots = table._slots(*fastpack._token_keys(buf, np.cumsum(lengths) - lengths, lengths))
    assert len(set(slots.tolist())) < len(data)


def test_byte_table_agrees_with_python_case_and_whitespace_rules():
    ascii_chars = ''.join(map(chr, range(128)))
    whitespace = '\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f '  # what str.split() splits on in ASCII
    assert ''.join(c for c in ascii_chars if c.isspace()) == whitespace
    want = ascii_chars.translate(str.maketrans(whitespace, ' ' * len(whitespace))).lower()
    assert bytes(fastpack._ASCII_LOWER[:128]).decode() == want
    # Non-ASCII sentences are lowered by Python before the table sees them: the table must
    # not change them, so Python's lower case must never contain an upper-case ASCII letter.
    lowered = ''.join(map(chr, range(128, 0x110000))).lower()
    assert not any(c in lowered for c in ascii_chars if c.isupper())


def test_concat_ranges():
    starts, lengths = np.array([5, 9, 0, 2]), np.array([3, 0, 1, 2])
    assert fastpack._concat_ranges(starts, lengths).tolist() == [5, 6, 7, 0, 2, 3]
    assert fastpack._concat_ranges(np.array([4, 1]), np.array([0, 2])).tolist() == [1, 2]


@pytest.mark.parametrize('pack', [pack_pairs, pack_pairs_plain])
def test_pack_pairs_bad_input(pack):
    vocab = make_vocab()
    with pytest.raises(ValueError, match='2 premises but 1 hypotheses'):
        pack(['a', 'b'], ['c'], vocab, 8)
    with pytest.raises(ValueError, match='no <pad> token'):
        pack(['a'], ['b'], Vocab([['a']]), 8)
    with pytest.raises(ValueError, match='max_len=2 leaves no room'):
        pack(['a'], ['b'], vocab, 2)


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

