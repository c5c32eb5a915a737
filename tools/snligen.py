"""Generate snli-mini, a small SNLI-format corpus whose labels follow from the words.

    python -m tools.snligen OUTDIR             writes OUTDIR/snli-mini.zip (the bundled one)
    python -m tools.snligen --squares OUTDIR   writes it in Latin squares instead

The bundled corpus is built in triples (tools.snli_triples): one hypothesis with an entailed, a
contradicting and a neutral premise, so the hypothesis alone says nothing about the label; the
premise alone does (issue 23). The squares have no such shortcut: three premises and three
hypotheses about one scene (tools.snli_scenes), each premise with each hypothesis, and the nine
labels a Latin square, so that every premise and every hypothesis appears once with each label.
A square rests on three slots of the scene. Hypothesis i names slot i (and the subject and the
activity); premise i says slot i as hypothesis i does (entailment), slot i + 1 in a way that
hypothesis i + 1 excludes (contradiction), and slot i + 2 not at all or more broadly (neutral);
or the neutral pair comes from a detail that hypothesis i + 2 adds. Every pair of a square is
checked against `label_of`, the label a reader gives (tools.snli_terms). The squares are not
bundled yet: the model fine-tuned on them generalises less well to the hand-written pairs
(docs/results.md).
"""
import os
import random
import sys

from d2lmini import hub
from d2lmini.snli import HEADER, LABELS

from . import snli_triples
from .snli_lexicon import ACTIONS, COLOURS, FUR, LOCATIONS, NOUNS
from .snli_scenes import _fit, _phrase, _scene
from .snli_terms import (
    _MEANING,
    CONTRADICTION,
    ENTAILMENT,
    NEUTRAL,
    TERMS,
    _relation,
    covering,
    label_of,
)
from .snli_trees import _columns, premise_form

SPLIT_PAIRS = {'train': 6000, 'dev': 500, 'test': 500}  # rows at least: whole squares of nine

# Which slots a square rests on, and how often: the phenomena of the corpus.
_SLOT_WEIGHTS = {'action': 3, 'noun': 3, 'count': 1.5, 'place': 3, 'time': 2, 'look': 2,
                 'emotion': 1}
# How often the hypothesis says its slot broadly ("an instrument", "outside", "a child").
_HYP_BROAD = {'noun': 0.3, 'action': 0.35, 'place': 0.3, 'time': 0.2}

# How often a neutral pair comes from a detail that the hypothesis adds (for money, with her
# mother, in the morning) rather than from one that the premise leaves open; which detail.
_ADDED = 0.4
_ADDED_WEIGHTS = {'purpose': 2, 'relation': 1.5, 'time': 1, 'emotion': 1, 'look': 1, 'place': 1}
# How often a premise that leaves an optional slot open says it broadly ("outside"), not at all.
_OPEN_SAID = 0.4
_CORE = ('count', 'noun', 'action')  # said by every sentence


def _meaning(term):
    return _MEANING[(term.slot, term.phrase)]


def _rel(p, h):
    return _relation(p.slot, _meaning(p), _meaning(h))


def _others(slot, scene):
    """Values that the slot could take instead of the scene's, in a premise that contradicts."""
    spec = ACTIONS[scene['action']]
    if slot == 'count':
        return [c for c in (2, 3, 4) if c != scene['count']]
    if slot == 'noun':
        return [n for n in NOUNS if n in spec.kinds and n != scene['noun']]
    if slot == 'action':
        return [a for a, s in ACTIONS.items() if scene['noun'] in s.kinds
                and (s.group or scene['count'] == 1) and a != scene['action']]
    if slot == 'place':
        near = [loc for loc in spec.places.split() if loc != scene['place'][0]]
        return [(loc, LOCATIONS[loc][0].split()[0]) for loc in near or LOCATIONS]
    if slot == 'time':
        return [t for t in ('morning', 'afternoon', 'night') if t != scene['time']]
    if slot == 'look':
        colour, garment = scene['look']
        return ([('fur', c) for c in FUR if c != garment] if colour == 'fur'
                else [(c, garment) for c in COLOURS if c != colour])
    return ['sad' if scene['emotion'] == 'happy' else 'happy']


def _column(rng, scene, slot):
    """The terms of one slot of a square, or None where the scene cannot carry it:
    (the hypothesis's, the entailing premise's, the contradicting premise's value and term,
    the neutral premise's (None: it does not say the slot), the other hypotheses' (None: they
    do not say it))."""
    value = scene[slot]
    if value is None or (slot == 'count' and value == 1) or (
            slot == 'emotion' and value not in ('happy', 'sad')):
        return None
    terms = [t for t in covering(slot, value) if t.phrase != 'the']
    narrow = min(len(_meaning(t)) for t in terms)
    wide = [t for t in terms if len(_meaning(t)) > narrow]
    if slot == 'look':
        wide = [t for t in wide if t.phrase[0] == 'in']  # "wearing red" excludes no blue shirt
    h = rng.choice(wide if wide and rng.random() < _HYP_BROAD.get(slot, 0) else
                   [t for t in terms if len(_meaning(t)) == narrow])
    e = _phrase(rng, slot, value)
    if _rel(e, h) != ENTAILMENT:
        return None
    others = _others(slot, scene)
    rng.shuffle(others)
    for other in others:
        c = _phrase(rng, slot, other)
        if _rel(c, h) == CONTRADICTION:
            break
    else:
        return None
    open_terms = [t for t in TERMS[slot] if _rel(t, h) == NEUTRAL
                  and _meaning(e) <= _meaning(t) and t.phrase != ('in', None, 'uniform')]
    # (the trees say "an uniform", and bert.mini's corpus was written with them)
    if slot in _CORE:
        if not open_terms:
            return None
        n = rng.choice(open_terms)
        every = _meaning(e) | _meaning(c) | _meaning(n)
        common = [t for t in TERMS[slot] if every <= _meaning(t)]
        if not common:
            return None
        rest = min(common, key=lambda t: len(_meaning(t)))
    else:
        n = rng.choice(open_terms) if open_terms and rng.random() < _OPEN_SAID else None
        rest = None
    return h, e, (other, c), n, rest


def _consistent(scene, terms):
    """Can one scene hold the premise's `scene` values that its terms name?"""
    fitted = _fit(dict(scene))
    if any(fitted[s] is None for s in terms if s in scene):
        return False
    spec = ACTIONS[scene['action']]
    look = terms.get('look')
    if look and look.phrase[0] != 'fur' and spec.posture == 'water':
        return False  # nobody swims in a coat
    if scene['emotion'] == 'excited' and 'emotion' in terms and spec.posture == 'asleep':
        return False
    if scene['noun'] not in spec.kinds or (scene['count'] > 1 and not spec.group):
        return False
    return 'place' not in terms or scene['place'][0] in spec.places.split()


def _square(rng):
    """(premises, hypotheses, labels) of one square: three term dicts each and labels[i][j]
    of premise i with hypothesis j; None where this scene gave none."""
    scene = _scene(rng)
    usable = {}
    for slot in sorted(_SLOT_WEIGHTS):
        column = _column(rng, scene, slot)
        if column is not None:
            usable[slot] = column
    if len(usable) < 3:
        return None
    slots = []
    while len(slots) < 3:
        names = [s for s in usable if s not in slots]
        slots.append(rng.choices(names, weights=[_SLOT_WEIGHTS[s] for s in names])[0])
    core = {s: _phrase(rng, s, scene[s]) for s in _CORE if s not in slots}
    added = []
    for i in range(3):
        free = [s for s in _ADDED_WEIGHTS if s not in slots and scene[s] is not None
                and s not in added and (s != 'relation' or not {'noun', 'count'} & set(slots))]
        if free and rng.random() < _ADDED:
            added.append(rng.choices(free, weights=[_ADDED_WEIGHTS[s] for s in free])[0])
        else:
            added.append(None)
    hypotheses, premises, scenes = [], [], []
    for i, slot in enumerate(slots):
        h = usable[slot][0]
        hyp = {}
        for s in _CORE:
            if s in core:  # the subject and the activity, sometimes more broadly
                broad = [t for t in covering(s, scene[s]) if _meaning(core[s]) <= _meaning(t)]
                hyp[s] = rng.choice(broad) if rng.random() < 0.25 else core[s]
            elif s != slot:
                hyp[s] = usable[s][4]
        hyp[slot] = h
        if added[i]:
            hyp[added[i]] = _phrase(rng, added[i], scene[added[i]])
        hypotheses.append(hyp)
    for i, slot in enumerate(slots):
        nxt, last = slots[(i + 1) % 3], slots[(i + 2) % 3]
        terms = dict(core)
        terms[slot] = usable[slot][1]
        (other, c) = usable[nxt][2]
        terms[nxt] = c
        own = dict(scene, **{nxt: other})
        if added[(i + 2) % 3]:
            terms[last] = usable[last][1]  # the hypothesis adds a detail instead
        elif usable[last][3] is not None:
            terms[last] = usable[last][3]
        elif last in _CORE:
            return None
        if added[i]:
            terms[added[i]] = hypotheses[i][added[i]]
        if not _consistent(own, terms):
            return None
        premises.append(terms)
        scenes.append(own)
    labels = [[label_of(p, h) for h in hypotheses] for p in premises]
    want = [[(ENTAILMENT, CONTRADICTION, NEUTRAL)[(j - i) % 3] for j in range(3)]
            for i in range(3)]
    return (premises, hypotheses, labels) if labels == want else None


# ----------------------------------------------------------------- splits ---

def square_rows(split, seed=0, seen=None):
    """The rows (lists of the 14 column strings) of one split, in squares.

    Squares with a pair whose premise and hypothesis are both in `seen` (a set, updated in
    place) are left out, so that dev and test do not repeat train pairs.
    """
    rng = random.Random(f'snli-mini/squares/{split}/{seed}')
    seen = set() if seen is None else seen
    validated_share = 0.1 if split == 'train' else 1.0
    rows, image_ids = [], set()
    while len(rows) < SPLIT_PAIRS[split]:
        square = _square(rng)
        if square is None:
            continue
        premises, hypotheses, labels = square
        p_cols = [_columns(p, premise_form(rng)) for p in premises]
        h_cols = [_columns(h, 'prog') for h in hypotheses]
        pairs = [(label, p_cols[i], h_cols[j]) for i, row in enumerate(labels)
                 for j, label in enumerate(row) if label is not None]
        if any((p[2], h[2]) in seen for _, p, h in pairs) or any(
                p[2] == h[2] for _, p, h in pairs) or len({p[2] for p in p_cols}) < len(
                p_cols) or len({h[2] for h in h_cols}) < len(h_cols):
            continue
        image = rng.randrange(10**8, 10**10)
        while image in image_ids:
            image = rng.randrange(10**8, 10**10)
        image_ids.add(image)
        captions = dict(zip([p[2] for p in p_cols], sorted(rng.sample(range(5), len(p_cols)))))
        rng.shuffle(pairs)
        for label, p, h in pairs:
            seen.add((p[2], h[2]))
            gold, votes = snli_triples._annotations(rng, label, rng.random() < validated_share)
            caption_id = f'{image}.jpg#{captions[p[2]]}'
            rows.append([gold, p[0], h[0], p[1], h[1], p[2], h[2], caption_id,
                         f'{caption_id}r1{LABELS[label][0]}'] + votes)
    return rows


def split_rows(split, seed=0, seen=None, squares=False):
    """The rows of one split: of the bundled triples (tools.snli_triples), or of squares."""
    return (square_rows if squares else snli_triples.split_rows)(split, seed, seen)


def split_text(rows):
    return HEADER + '\n' + ''.join('\t'.join(row) + '\n' for row in rows)


def snli_texts(seed=0, squares=False):
    """{'train': text, 'dev': text, 'test': text} of the reduced SNLI files."""
    seen = set()
    return {split: split_text(split_rows(split, seed, seen, squares)) for split in SPLIT_PAIRS}


def write_snli_zip(out_dir, seed=0, squares=False):
    """Write `out_dir/snli-mini.zip` byte for byte reproducibly and return its sha1."""
    os.makedirs(out_dir, exist_ok=True)
    files = {f'snli-mini/snli_1.0_{split}.txt': text.encode('utf-8')
             for split, text in snli_texts(seed, squares).items()}
    return hub.sha1_of(hub.write_zip(os.path.join(out_dir, 'snli-mini.zip'), files,
                                     compresslevel=9))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    squares = argv[:1] == ['--squares']
    argv = argv[1:] if squares else argv
    if len(argv) != 1:
        sys.exit('usage: python -m tools.snligen [--squares] OUTDIR   (writes OUTDIR/snli-mini.zip)')
    print(write_snli_zip(argv[0], squares=squares))


if __name__ == '__main__':
    main()
