"""The triples that the bundled snli-mini is built from: one hypothesis with an entailed, a
contradicting and a neutral premise for it, so that the hypothesis alone says nothing about
the label. The premise alone does (a bag-of-words classifier of the premises scores 0.52 on the
test split): the three premises are built differently, and their words show it. The squares of
tools.snligen have no such shortcut; see docs/results.md for why they are not bundled yet.

Labels follow the scene's own rule (`scene_label_of`), which a reader does not always share
(*a lady walking* / *the woman is walking* is neutral to it); `label_of` is the reader's.
"""
import random

from d2lmini.snli import LABELS

from .snli_lexicon import (
    _ANTONYMS,
    _SUBJECT_WEIGHTS,
    ACTIONS,
    COLOURS,
    FUR,
    LOCATIONS,
    RELATIONS,
    TIMES,
)
from .snli_scenes import (
    _HYP_SAY,
    _PREMISE_BROAD,
    _PREMISE_KEEP,
    _describe,
    _fit,
    _kind,
    _phrase,
    _purposes,
    _scene,
    _view,
)
from .snli_terms import (
    _OPTIONAL,
    CONTRADICTION,
    ENTAILMENT,
    LABEL_IDS,
    NEUTRAL,
    _place_worlds,
    covering,
    excludes,
    scene_label_of,
    scene_relation,
)
from .snli_trees import _columns, premise_form

SPLIT_TRIPLES = {'train': 2000, 'dev': 167, 'test': 167}


def _neutral_options(scene, hyp):
    """Ways to leave one slot of the hypothesis open, as (kind, slot, what): 'drop' it,
    say it in a 'broader' term, or 'swap' in another value that may also be true (with a
    sister, not a friend; for fun, not for money)."""
    options = [('drop', slot, None) for slot in hyp if slot in _OPTIONAL]
    options += [('broader', slot, t) for slot, h in hyp.items()
                for t in covering(slot, scene[slot])
                if t.phrase != 'the' and not t.cover <= h.cover]
    choices = {
        'relation': RELATIONS[_kind(scene['noun'])],
        'purpose': _purposes(scene['action'], scene['noun']),
    }
    for slot, values in choices.items():
        if slot in hyp:
            options += [('swap', slot, v) for v in values
                        if scene_relation(slot, frozenset([v]), hyp[slot].cover) == NEUTRAL]
    return options


# How often a neutral premise drops, broadens or swaps a slot, when it can.
_NEUTRAL_WAYS = {'drop': 0.4, 'swap': 0.35, 'broader': 0.25}


def _neutral(rng, scene, hyp):
    """A premise that leaves one slot of the hypothesis open."""
    options = _neutral_options(scene, hyp)
    counts = {way: sum(o[0] == way for o in options) for way in _NEUTRAL_WAYS}
    # A weighted shuffle: each way gets its share of first places whatever its number of options.
    options.sort(key=lambda o: -rng.random() ** (counts[o[0]] / _NEUTRAL_WAYS[o[0]]))
    for way, slot, what in options:
        changed = _fit(dict(scene, **{slot: what})) if way == 'swap' else scene
        within = {s: t for s, t in hyp.items() if s != slot}
        terms = _describe(rng, changed, must=within, never=[slot], within=within)
        if way == 'broader':
            terms[slot] = what
        elif way == 'swap':
            terms[slot] = _phrase(rng, slot, what, _PREMISE_BROAD, hyp[slot], NEUTRAL)
        else:  # say another detail instead, so that neutral premises are not the short ones
            extra = [s for s in _OPTIONAL
                     if s != slot and s not in terms and changed[s] is not None]
            if extra:  # each as often as it is left out (named by hypotheses, not by chance)
                weights = [_HYP_SAY[s] / (1 - _PREMISE_KEEP[s]) for s in extra]
                more = rng.choices(extra, weights=weights)[0]
                terms[more] = _phrase(rng, more, changed[more], _PREMISE_BROAD)
        if scene_label_of(terms, hyp) == NEUTRAL:  # an omitted place may still be implied
            return terms
    return None


def _contradiction_options(scene, hyp):
    """slot -> new values for it that the hypothesis rules out."""
    spec = ACTIONS[scene['action']]
    out = {}
    h = {slot: t.cover for slot, t in hyp.items()}
    out['count'] = [c for c in range(1, 5) if c not in h['count'] and (spec.group or c == 1)]
    out['noun'] = [n for n in _SUBJECT_WEIGHTS if n not in h['noun'] and n in spec.kinds]
    if 'look' in hyp and len(h['look']) == 1:  # only "in a red shirt" vs "in a blue shirt"
        (colour, garment), = h['look']  # for fur: ('fur', colour)
        out['look'] = ([('fur', c) for c in FUR if c != garment] if colour == 'fur'
                       else [(c, garment) for c in COLOURS if c != colour])
    if 'emotion' in hyp:
        out['emotion'] = [_ANTONYMS[e] for e in sorted(h['emotion'])]
    if 'time' in hyp:
        out['time'] = [t for t in TIMES if t not in h['time']]
    if 'action' in hyp:
        out['action'] = [
            a for a, s in ACTIONS.items()
            if scene['noun'] in s.kinds and (s.group or scene['count'] == 1)
            and scene['place'][0] in s.places.split()
            and all(excludes('action', a, b) for b in h['action'])]
    if 'place' in hyp:
        out['place'] = [(loc, LOCATIONS[loc][0].split()[0]) for loc in spec.places.split()
                        if not _place_worlds(loc) & h['place']]
    return {slot: values for slot, values in out.items() if values}


def _contradiction(rng, scene, hyp):
    """A premise that changes one slot of the scene to a value the hypothesis excludes."""
    options = _contradiction_options(scene, hyp)
    if not options:
        return None
    slot = rng.choice(sorted(options))
    changed = _fit(dict(scene, **{slot: rng.choice(options[slot])}))
    must = [s for s in hyp if changed[s] is not None and rng.random() < 0.95]
    within = {s: t for s, t in hyp.items() if s != slot and changed[s] == scene[s]}
    terms = _describe(rng, changed, must=must, within=within)
    terms[slot] = _phrase(rng, slot, changed[slot], _PREMISE_BROAD, hyp[slot], CONTRADICTION)
    return terms


def _premise(rng, scene, hyp, label):
    if label == ENTAILMENT:
        return _describe(rng, scene, must=hyp, within=hyp)
    if label == NEUTRAL:
        return _neutral(rng, scene, hyp)
    return _contradiction(rng, scene, hyp)


def _triple(rng):
    """A hypothesis and three premises for it, keyed by label; resampled until all three exist."""
    while True:
        scene = _scene(rng)
        hyp = _view(rng, scene)
        premises = {label: _premise(rng, scene, hyp, label) for label in LABEL_IDS}
        if all(p is not None for p in premises.values()):
            for label, premise in premises.items():
                if scene_label_of(premise, hyp) != label:
                    raise AssertionError(f'generator bug: {premise} vs {hyp} is not {label}')
            return hyp, premises


def _annotations(rng, label, validated):
    """(gold_label, label1..label5): the writer's label first, then four validators'."""
    intended = LABELS[label]
    others = [g for g in LABELS if g != intended]
    if rng.random() < 0.015:  # no label reaches 3 of 5 votes: SNLI's gold label "-"
        rest = [intended] + others + [rng.choice(others)]  # counts 2, 2, 1
        rng.shuffle(rest)
        return '-', [intended] + rest
    if not validated:
        return intended, [intended, '', '', '', '']
    while True:
        votes = [intended] + [intended if rng.random() < 0.85 else rng.choice(others)
                              for _ in range(4)]
        if votes.count(intended) >= 3:
            return intended, votes


def split_rows(split, seed=0, seen=None):
    """The rows (lists of the 14 column strings) of one split.

    Pairs whose premise and hypothesis are both in `seen` (a set, updated in
    place) are left out, so that dev and test do not repeat train pairs.
    """
    rng = random.Random(f'snli-mini/{split}/{seed}')
    seen = set() if seen is None else seen
    validated_share = 0.1 if split == 'train' else 1.0
    rows, image_ids = [], set()
    while len(rows) < 3 * SPLIT_TRIPLES[split]:
        hyp, premises = _triple(rng)
        h_cols = _columns(hyp, 'prog')
        pairs = [(label, _columns(premises[label], premise_form(rng))) for label in LABEL_IDS]
        if any((p[2], h_cols[2]) in seen for _, p in pairs):
            continue
        image = rng.randrange(10**8, 10**10)
        while image in image_ids:
            image = rng.randrange(10**8, 10**10)
        image_ids.add(image)
        rng.shuffle(pairs)
        for caption, (label, p_cols) in zip(sorted(rng.sample(range(5), 3)), pairs):
            seen.add((p_cols[2], h_cols[2]))
            gold, votes = _annotations(rng, label, rng.random() < validated_share)
            caption_id = f'{image}.jpg#{caption}'
            rows.append([gold, p_cols[0], h_cols[0], p_cols[1], h_cols[1], p_cols[2], h_cols[2],
                         caption_id, f'{caption_id}r1{LABELS[label][0]}'] + votes)
    return rows
