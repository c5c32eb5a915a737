"""Scenes, and the corpus that bert.mini is pretrained on.

A scene is one imagined moment: slot -> value (who, how many, their mood and look, what they
do, where, when, why, with whom). `_describe` and `_view` say it in terms, a caption and a
short summary; `pretraining_corpus` tells each scene in a paragraph of such sentences, with a
foil (one detail changed) after each sentence for next-sentence prediction.

Every draw here makes wikitext-2-mini and so bert.mini: change one and both change
(tests/tools/test_wikigen.py rebuilds the corpus and checks its sha1).
"""
import itertools
import random

from .snli_lexicon import (
    _ANTONYMS,
    _SUBJECT_WEIGHTS,
    ACTIONS,
    ANIMALS,
    COLOURS,
    EMOTIONS,
    FEMALE,
    FEMALE_GARMENTS,
    FUR,
    GARMENTS,
    HUMANS,
    LOCATIONS,
    PURPOSES,
    RELATIONS,
    TIMES,
)
from .snli_terms import CONTRADICTION, ENTAILMENT, SLOTS, covering, excludes, scene_relation
from .snli_trees import _tree, _words, premise_form


def _kind(noun):
    return 'human' if noun in HUMANS else 'animal'


def _purposes(action, noun):
    return [p for p, (acts, kinds) in PURPOSES.items() if action in acts.split() and noun in kinds]


def _fit(scene):
    """Drop the details that the scene's subject or activity cannot have."""
    noun, action = scene['noun'], scene['action']
    look = scene['look']
    if look is not None and ((look[0] == 'fur') != (noun in ANIMALS)
                             or (look[1] in FEMALE_GARMENTS and noun not in FEMALE)):
        scene['look'] = None
    if scene['purpose'] not in _purposes(action, noun):
        scene['purpose'] = None
    if action == 'sleep' or scene['relation'] not in RELATIONS[_kind(noun)]:
        scene['relation'] = None
    return scene


def _scene(rng):
    nouns = list(_SUBJECT_WEIGHTS)
    noun = rng.choices(nouns, weights=[_SUBJECT_WEIGHTS[n] for n in nouns])[0]
    action = rng.choice([a for a, spec in ACTIONS.items() if noun in spec.kinds])
    spec = ACTIONS[action]
    location = rng.choice(spec.places.split())
    if noun in ANIMALS:
        look = ('fur', rng.choice(FUR))
    else:
        garments = [g for g in GARMENTS if g not in FEMALE_GARMENTS or noun in FEMALE]
        look = (rng.choice(COLOURS), rng.choice(garments))
    purposes = _purposes(action, noun)
    return _fit({
        'count': rng.choice((1, 1, 1, 2, 2, 3, 4)) if spec.group else 1,
        'noun': noun, 'emotion': rng.choice(EMOTIONS), 'look': look, 'action': action,
        'place': (location, rng.choice(LOCATIONS[location][0].split())),
        'time': rng.choice(list(TIMES)),
        'purpose': rng.choice(purposes) if purposes and rng.random() < 0.6 else None,
        'relation': rng.choice(RELATIONS[_kind(noun)]),
    })


# How often a summary (a hypothesis of the bundled triples, or a sentence of bert.mini's corpus)
# names an optional slot, and says a slot in a broad phrase: few details, so that a small BERT
# learns the pairs from a few thousand examples.
_HYP_SAY = {'emotion': 0.08, 'look': 0.15, 'place': 0.25, 'time': 0.06, 'purpose': 0.12,
            'relation': 0.08}
_HYP_BROAD = {'count': 0.15, 'noun': 0.3, 'action': 0.3, 'place': 0.3, 'look': 0.4}


def _view(rng, scene):
    """A hypothesis: some of the scene's slots, each in a broad or a narrow phrase."""
    def pick(slot):
        terms = covering(slot, scene[slot])
        wide = [t for t in terms if len(t.cover) > min(len(u.cover) for u in terms)]
        if wide and rng.random() < _HYP_BROAD.get(slot, 0):
            return rng.choice(wide)
        return rng.choice([t for t in terms if t not in wide])

    view = {'count': pick('count'), 'noun': pick('noun')}
    if rng.random() < 0.15:  # no activity: "A man is outside."
        view['place'] = pick('place')
    else:
        view['action'] = pick('action')
    for slot, say in _HYP_SAY.items():
        if (scene[slot] is not None and slot not in view and rng.random() < say
                and (slot in ('place', 'emotion', 'look') or 'action' in view)):
            view[slot] = pick(slot)
    return view


_PREMISE_KEEP = {'emotion': 0.06, 'look': 0.4, 'place': 0.5, 'time': 0.1, 'purpose': 0.2,
                 'relation': 0.12}
# Premises use broad phrases ("a person", "outside") too, whatever their label: were broad
# phrases only in neutral premises of the triples, the premise alone would give the label away.
_PREMISE_BROAD = 0.1


def _describe(rng, scene, must=(), never=(), within=None, keep=_PREMISE_KEEP):
    """Phrases for the scene: `must` slots always, optional ones with the chances in `keep`;
    a slot of the dict `within` (a hypothesis) gets a phrase that the hypothesis's term covers."""
    within = within or {}
    terms = {}
    for slot in SLOTS:
        if scene[slot] is None or slot in never:
            continue
        if slot in must or slot not in keep or rng.random() < keep[slot]:
            terms[slot] = _phrase(rng, slot, scene[slot], _PREMISE_BROAD, within.get(slot))
    return terms


def _phrase(rng, slot, value, broad=0.0, hyp=None, want=ENTAILMENT):
    """A phrase for `value`: a narrowest one (the first listed, usually; a synonym
    sometimes) or, with probability `broad`, a broader one where there is one. Given a
    hypothesis term `hyp`, only phrases that stand in the relation `want` to it (by the scene's
    own rule, `scene_relation`)."""
    terms = [t for t in covering(slot, value) if t.phrase != 'the'
             and (hyp is None or scene_relation(slot, t.cover, hyp.cover) == want)]
    narrowest = min(len(t.cover) for t in terms)
    wide = [t for t in terms if len(t.cover) > narrowest]
    if wide and rng.random() < broad:
        return rng.choice(wide)
    terms = [t for t in terms if len(t.cover) == narrowest]
    return terms[0] if len(terms) == 1 or rng.random() < 0.7 else rng.choice(terms[1:])


# Pretraining sentences name more details than NLI premises do, so that most sentence pairs
# share a detail that a foil (below) can contradict.
_CORPUS_KEEP = dict(_PREMISE_KEEP, emotion=0.3, look=0.5, place=0.7, time=0.3)
# Which shared detail a foil changes: places, looks, times and moods more often than subjects,
# which differ at the first word and are the easiest to tell apart.
_FOIL_WEIGHTS = {'place': 3, 'look': 2, 'time': 2, 'emotion': 2, 'action': 2, 'count': 1,
                 'noun': 1}


def _changes(scene):
    """slot -> the other values of that slot that the scene's own value excludes."""
    spec = ACTIONS[scene['action']]
    out = {
        'count': [c for c in range(1, 5) if c != scene['count'] and (spec.group or c == 1)],
        'noun': [n for n in _SUBJECT_WEIGHTS if n != scene['noun'] and n in spec.kinds],
        'action': [a for a, s in ACTIONS.items()
                   if scene['noun'] in s.kinds and (s.group or scene['count'] == 1)
                   and scene['place'][0] in s.places.split()
                   and excludes('action', a, scene['action'])],
        'place': [(loc, LOCATIONS[loc][0].split()[0]) for loc in spec.places.split()
                  if loc != scene['place'][0]],
        'emotion': [_ANTONYMS[scene['emotion']]],
        'time': [t for t in TIMES if t != scene['time']],
    }
    if scene['look'] is not None:
        colour, garment = scene['look']  # for fur: ('fur', colour)
        out['look'] = ([('fur', c) for c in FUR if c != garment] if colour == 'fur'
                       else [(c, garment) for c in COLOURS if c != colour])
    return {slot: values for slot, values in out.items() if values}


def _foil(rng, scene, first, second):
    """The terms of sentence `second` with one detail that `first` also names changed, so
    that the two sentences contradict each other; None where no detail can change."""
    changes = _changes(scene)
    slots = [s for s in sorted(changes) if s in first]
    while slots:
        slot = rng.choices(slots, weights=[_FOIL_WEIGHTS[s] for s in slots])[0]
        slots.remove(slot)
        for _ in range(5):
            changed = _fit(dict(scene, **{slot: rng.choice(changes[slot])}))
            if changed[slot] is None:
                continue
            term = _phrase(rng, slot, changed[slot])
            if scene_relation(slot, first[slot].cover, term.cover) != CONTRADICTION:
                continue  # "outside" does not exclude "in a park"
            terms = {s: t for s, t in second.items() if changed[s] is not None}
            if slot in ('noun', 'action'):  # another subject or activity: drop its details
                terms = {s: t for s, t in terms.items() if s not in ('look', 'purpose',
                                                                     'relation')}
            terms[slot] = term
            if 'action' in terms or 'place' in terms:
                return terms
    return None


def pretraining_corpus(seed, num_paragraphs):
    """Paragraphs for BERT pretraining, and a foil for each pair of adjacent sentences.

    Returns `(paragraphs, foils)`. Each paragraph is a list of 2-6 sentences about one scene;
    sentences are plain strings, lower-case, tokens separated by single spaces, ending in " ."
    -- the form read_snli's text takes after `.lower()`. All sentences of a paragraph are true
    of its scene (premise-like captions and hypothesis-like summaries of it), so a pair of
    them never contradicts itself. `foils[i][j]` is sentence j + 1 of paragraph i with one
    detail changed so that it contradicts sentence j, or None.
    """
    rng = random.Random(f'snli-mini/pretrain/{seed}')
    paragraphs, foils = [], []
    for _ in range(num_paragraphs):
        scene = _scene(rng)
        said = []
        for i in range(rng.randint(2, 6)):
            if i == 0 or rng.random() < 0.5:
                terms, form = _describe(rng, scene, keep=_CORPUS_KEEP), premise_form(rng)
            else:
                terms, form = _view(rng, scene), 'prog'
            said.append((terms, form))
        paragraphs.append([' '.join(_words(_tree(terms, form))) for terms, form in said])
        foils.append([])
        for (first, _), (second, form) in itertools.pairwise(said):
            foil = _foil(rng, scene, first, second)
            foils[-1].append(foil and ' '.join(_words(_tree(foil, form))))
    return paragraphs, foils
