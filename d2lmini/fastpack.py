"""The fast packer behind `text.pack_pairs`: the same arrays as `text.pack_pairs_plain`, built
with numpy over whole chunks of pairs. A learner need not open this module.

`text.pack_pairs_plain` is the method, one pair at a time in a few readable lines; this module
gives the same result (tests/test_text.py checks that they agree on random and awkward text)
for the book's truncation rule only, in seconds instead of minutes for SNLI's 550,000 pairs.
It tokenizes chunks of sentences as one UTF-8 byte array, looks the tokens up in a numpy hash
table of its own, computes the truncated lengths in closed form and lays the rows out with
index arithmetic. One Python string and one dict lookup per token would cost ~200 ns a token,
most of the time for an SNLI-sized corpus.
"""
import itertools
import operator

import numpy as np


def truncated_lengths(p_lens, h_lens, max_len):
    """The lengths `text.truncate_pair_of_tokens` leaves, for whole arrays at once.

    Popping from the longer side first shrinks only that side until the two
    meet; after that they shrink in turn, the premise keeping the odd token.
    """
    p_lens, h_lens = np.asarray(p_lens), np.asarray(h_lens)
    budget = max_len - 3
    if budget < 0:
        raise ValueError(f'max_len={max_len} leaves no room for <cls> and two <sep> tokens')
    keep_p = np.minimum(p_lens, np.maximum((budget + 1) // 2, budget - h_lens))
    fits = p_lens + h_lens <= budget
    new_p = np.where(fits, p_lens, keep_p)
    new_h = np.where(fits, h_lens, budget - keep_p)
    return new_p, new_h


# Tokens shorter than this many bytes are looked up with numpy; longer (rare) ones in the dict.
_KEY_BYTES = 16

# `str.lower()` and `str.split()` on ASCII as a byte table: whitespace becomes a space and A-Z
# becomes a-z. Bytes from 128 up (parts of non-ASCII characters) stay as they are.
_ASCII_LOWER = np.arange(256, dtype=np.uint8)
_ASCII_LOWER[:128] = [ord(' ') if c.isspace() else ord(c.lower()) for c in map(chr, range(128))]

# _BYTE_MASKS[k] keeps the first k bytes of a little-endian uint64.
_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of Fibonacci hashing


def _token_keys(buf, starts, lengths):
    """Two uint64 keys per token of the uint8 array `buf` (padded: 16 bytes from every start).

    `key0` holds bytes 0-7, `key1` bytes 8-14 and, in its top byte, the length, so 'a' and
    'a' + NUL differ. Tokens shorter than `_KEY_BYTES` are equal exactly when their keys are.
    """
    # A view that reads the 8 bytes starting at any offset: one gather per key.
    words = np.ndarray((len(buf) - 7,), '<u8', buf, strides=(1,))
    key0 = words[starts] & _BYTE_MASKS[np.minimum(lengths, 8)]
    key1 = words[starts + 8] & _BYTE_MASKS[np.clip(lengths - 8, 0, 7)]
    return key0, key1 | (np.minimum(lengths, 255).astype(np.uint64) << np.uint64(56))


class _TokenTable:
    """A vocabulary's tokens as a numpy hash table (open addressing, linear probing).

    A slot holds a token's two keys and its id; an empty slot has `key1 == 0`, which no token
    has (a token's length is in that key's top byte). Less than a quarter of the slots are
    used, so most tokens are found, or known to be unknown, at their first slot.
    """

    def __init__(self, vocab):
        tokens = [t.encode() for t in vocab.token_to_idx]
        lengths = np.fromiter(map(len, tokens), np.int64, len(tokens))
        buf = np.frombuffer(b''.join(tokens) + bytes(_KEY_BYTES), np.uint8)
        key0, key1 = _token_keys(buf, np.cumsum(lengths) - lengths, lengths)
        ids = np.fromiter(vocab.token_to_idx.values(), np.int32, len(tokens))
        self.bits = (4 * len(tokens)).bit_length()
        self.mask = (1 << self.bits) - 1
        self.key0, self.key1 = np.zeros((2, self.mask + 1), dtype=np.uint64)
        self.ids = np.zeros(self.mask + 1, dtype=np.int32)
        # Longer tokens are looked up in the dict; empty ones never occur.
        todo = np.flatnonzero((lengths > 0) & (lengths < _KEY_BYTES))
        slot = self._slots(key0[todo], key1[todo])
        while len(todo):  # each round, every free slot takes the first token that wants it
            free = np.flatnonzero(self.key1[slot] == 0)
            taken, first = np.unique(slot[free], return_index=True)
            won = free[first]
            placed = todo[won]
            self.key0[taken], self.key1[taken] = key0[placed], key1[placed]
            self.ids[taken] = ids[placed]
            lost = np.ones(len(todo), dtype=bool)
            lost[won] = False
            todo, slot = todo[lost], (slot[lost] + 1) & self.mask

    def _slots(self, key0, key1):
        # Fibonacci hashing: the top bits of a product with an odd constant depend on all bits.
        return ((((key1 * _GOLDEN) ^ key0) * _GOLDEN) >> np.uint64(64 - self.bits)).astype(np.int64)

    def lookup(self, key0, key1, default):
        """The ids of the tokens with these keys; `default` for tokens not in the table."""
        slot = self._slots(key0, key1)
        hit, empty = self._probe(slot, key0, key1)
        ids = np.where(hit, self.ids[slot], np.int32(default))
        # The first slot settles nearly every token: follow the probe chains of the rest.
        todo = np.flatnonzero(~hit & ~empty)
        while len(todo):
            slot[todo] = (slot[todo] + 1) & self.mask
            hit, empty = self._probe(slot[todo], key0[todo], key1[todo])
            ids[todo[hit]] = self.ids[slot[todo[hit]]]
            todo = todo[~hit & ~empty]  # an empty slot ends the search: the token is unknown
        return ids

    def _probe(self, slot, key0, key1):
        """Whether each slot holds the token with these keys, and whether it is empty."""
        slot_key1 = self.key1[slot]
        return (slot_key1 == key1) & (self.key0[slot] == key0), slot_key1 == 0


def _distinct_runs(sentences):
    """Drop repeats of the previous sentence: returns the kept ones and, for each sentence,
    the index of its kept copy. SNLI gives each caption's hypotheses in consecutive rows."""
    new = np.ones(len(sentences), dtype=bool)
    new[1:] = np.fromiter(map(operator.ne, sentences[1:], sentences[:-1]), bool, len(sentences) - 1)
    return list(itertools.compress(sentences, new)), np.cumsum(new) - 1


def _tokenize(sentences, vocab, table):
    """Look up `sentence.lower().split()` for every sentence, with the same results.

    Returns the ids of the distinct sentences laid end to end, and for every input sentence
    the offset and length of its run. A sentence that repeats the one before is done once.
    """
    distinct, which = _distinct_runs(sentences)
    sizes = np.fromiter(map(len, distinct), np.int64, len(distinct))
    # The byte table knows ASCII only: Python lowers and splits the (rare) other sentences
    # by Unicode's rules and joins their tokens with single spaces.
    is_ascii = np.fromiter(map(str.isascii, distinct), bool, len(distinct))
    for i in np.flatnonzero(~is_ascii).tolist():
        distinct[i] = ' '.join(distinct[i].lower().split())
        sizes[i] = len(distinct[i].encode())
    text = (' '.join(distinct) + ' ' * _KEY_BYTES).encode()
    buf = _ASCII_LOWER[np.frombuffer(text, np.uint8)]
    # Tokens start and end where "is a space" flips; the padding spaces end the last one.
    edges = np.flatnonzero(np.diff(buf != ord(' '), prepend=False))
    starts, lengths = edges[0::2], edges[1::2] - edges[0::2]
    ids = table.lookup(*_token_keys(buf, starts, lengths), vocab.unk)
    for i in np.flatnonzero(lengths >= _KEY_BYTES).tolist():
        token = buf[starts[i]:starts[i] + lengths[i]].tobytes().decode()
        ids[i] = vocab.token_to_idx.get(token, vocab.unk)
    # A sentence's tokens are those that start from its first byte on, before the next's.
    first = np.searchsorted(starts, np.cumsum(sizes + 1) - (sizes + 1))
    counts = np.diff(first, append=len(starts))
    return ids, first[which], counts[which]


def _concat_ranges(starts, lengths):
    """`np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths)])` with no Python
    loop: a cumulative sum of steps that are 1, except a jump where each range begins.
    Needs at least one non-empty range."""
    keep = lengths > 0  # an empty range has no first element to hold its jump
    starts, lengths = starts[keep], lengths[keep]
    ends = np.cumsum(lengths)
    steps = np.ones(ends[-1], dtype=np.int64)
    steps[0] = starts[0]
    steps[ends[:-1]] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
    return np.cumsum(steps)


def pack_pairs(premises, hypotheses, vocab, max_len, chunk_size=50_000):
    """`text.pack_pairs_plain` with the book's truncation rule, on whole chunks at once.

    Same arguments (checked by text.pack_pairs) and the same arrays. Works in chunks so that
    only one chunk's temporary arrays are alive at a time.
    """
    n, table, cols = len(premises), _TokenTable(vocab), np.arange(max_len)
    specials = np.array([vocab['<cls>'], vocab['<sep>']], dtype=np.int32)
    # Empty, not full: each chunk's rows are padded when written, while they are in cache.
    token_ids = np.empty((n, max_len), dtype=np.int32)
    segments = np.empty((n, max_len), dtype=np.uint8)
    valid_lens = np.empty(n, dtype=np.int32)
    for lo in range(0, n, chunk_size):
        hi = min(lo + chunk_size, n)
        p_ids, p_starts, p_lens = _tokenize(premises[lo:hi], vocab, table)
        h_ids, h_starts, h_lens = _tokenize(hypotheses[lo:hi], vocab, table)
        p_keep, h_keep = truncated_lengths(p_lens, h_lens, max_len)
        # Each row is five runs of `source`: <cls>, premise, <sep>, hypothesis, <sep>.
        source = np.concatenate([p_ids, h_ids, specials])
        cls_at, sep_at, one = len(source) - 2, len(source) - 1, np.ones_like(p_keep)
        run_starts = np.stack([cls_at * one, p_starts, sep_at * one, len(p_ids) + h_starts,
                               sep_at * one], axis=1)
        run_lens = np.stack([one, p_keep, one, h_keep, one], axis=1)
        valid = p_keep + h_keep + 3
        inside = cols < valid[:, None]
        block = token_ids[lo:hi]
        block.fill(vocab['<pad>'])
        block[inside] = source[_concat_ranges(run_starts.ravel(), run_lens.ravel())]
        # Segment 1 runs from the first hypothesis token through the final <sep>.
        segments[lo:hi] = (cols >= (p_keep + 2)[:, None]) & inside
        valid_lens[lo:hi] = valid
    return token_ids, segments, valid_lens
