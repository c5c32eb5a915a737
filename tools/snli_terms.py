"""Terms, and the label a reader gives a pair of them.

A term is one phrase for one slot of a scene (who, how many, what they wear, do, where, when,
why, with whom); its `cover` is the set of slot values it allows: "a guitar" covers one
activity, "an instrument" four, "outside" every outdoor place. A premise entails a hypothesis
when each of the hypothesis's sets contains the premise's, contradicts it when some slot
cannot hold both at once, and is neutral otherwise (`label_of`). Where a careful reader could
not tell (is one *in the snow* when *in a park*? can one eat an apple while walking?),
`label_of` says so with None, and the generator writes no such pair.
"""
from collections import namedtuple

from .snli_lexicon import (
    _ACTION_PHRASES,
    _ANTONYMS,
    ACTIONS,
    COLOURS,
    COUNTS,
    EMOTIONS,
    FUR,
    GARMENTS,
    LOCATIONS,
    NOUNS,
    PURPOSES,
    RELATIONS,
    TIMES,
)

ENTAILMENT, CONTRADICTION, NEUTRAL = LABEL_IDS = (0, 1, 2)

# A term is one phrase for one slot of a scene; `cover` is the set of slot values it allows.
Term = namedtuple('Term', 'slot phrase cover')
SLOTS = ('count', 'noun', 'emotion', 'look', 'action', 'place', 'time', 'purpose', 'relation')
_OPTIONAL = ('emotion', 'look', 'place', 'time', 'purpose', 'relation')


def _place_worlds(location):
    return frozenset((location, io) for io in LOCATIONS[location][0].split())


def _build_terms():
    terms = {slot: [] for slot in SLOTS}
    terms['count'] = [Term('count', w, frozenset(c)) for w, c in COUNTS.items()]
    terms['noun'] = [Term('noun', w, frozenset(v[1])) for w, v in NOUNS.items()]
    terms['emotion'] = [Term('emotion', e, frozenset([e])) for e in EMOTIONS]
    looks = terms['look']
    for c in COLOURS:
        looks += [Term('look', ('in', c, g), frozenset([(c, g)])) for g in GARMENTS]
        looks.append(Term('look', ('wearing', c), frozenset((c, g) for g in GARMENTS)))
    looks += [Term('look', ('in', None, g), frozenset((c, g) for c in COLOURS)) for g in GARMENTS]
    looks += [Term('look', ('fur', c), frozenset([('fur', c)])) for c in FUR]
    terms['action'] = [Term('action', a.phrase, frozenset([name])) for name, a in ACTIONS.items()]
    terms['action'] += [Term('action', p, frozenset(c)) for p, c in _ACTION_PHRASES.items()]
    for location, (_, phrases) in LOCATIONS.items():
        terms['place'] += [Term('place', p, _place_worlds(location)) for p in phrases]
    for side, phrases in (('out', ('outside', 'outdoors')), ('in', ('inside', 'indoors'))):
        worlds = frozenset((loc, side) for loc, (sides, _) in LOCATIONS.items()
                           if side in sides.split())
        terms['place'] += [Term('place', p, worlds) for p in phrases]
    terms['time'] = [Term('time', p, frozenset([t])) for t, ps in TIMES.items() for p in ps]
    terms['time'].append(Term('time', 'during the day', frozenset(['morning', 'afternoon'])))
    terms['purpose'] = [Term('purpose', p, frozenset([p])) for p in PURPOSES]
    terms['relation'] = [Term('relation', r, frozenset([r]))
                         for group in RELATIONS.values() for r in group]
    return terms


TERMS = _build_terms()


def covering(slot, value):
    return [t for t in TERMS[slot] if value in t.cover]



def _merged_covers():
    """(slot, phrase) -> the union of the covers of the terms with that phrase: "walking" is
    one term for walking alone and another for all walking (a dog too); a reader hears one."""
    out = {}
    for slot, terms in TERMS.items():
        for t in terms:
            out[(slot, t.phrase)] = out.get((slot, t.phrase), frozenset()) | t.cover
    return out


_MEANING = _merged_covers()
# "At home" and "at school" name more than the one room the generator puts there: a reader
# does not take "at home" to mean "in a living room" (the label audit's second round).
_MEANING[('place', 'at home')] |= {('home', 'in')}
_MEANING[('place', 'at school')] |= {('school', 'in')}


def excludes(slot, a, b):
    """Can one scene not hold both slot values `a` and `b`? The generator's own world: one
    subject, one place, one outfit, one posture. bert.mini's foils were drawn with it."""
    if a == b:
        return False
    if slot == 'emotion':
        return _ANTONYMS[a] == b
    if slot in ('purpose', 'relation'):
        return False  # one may play for fun and for money, with a friend and a sister
    if slot != 'action':
        return True  # one subject, one place, one outfit: different values exclude each other
    (verb_a, obj_a), (verb_b, obj_b) = (ACTIONS[x].phrase.split('|') for x in (a, b))
    if verb_a == verb_b and obj_a and obj_b:
        return True  # playing a guitar is not playing a piano
    pa, pb = ACTIONS[a].posture, ACTIONS[b].posture
    if 'asleep' in (pa, pb):
        return True
    return 'any' not in (pa, pb) and pa != pb and {pa, pb} != {'seated', 'still'}


def scene_relation(slot, p_cover, h_cover):
    """The label of one slot by the scene's own rule (`excludes`)."""
    if p_cover <= h_cover:
        return ENTAILMENT
    if all(excludes(slot, p, h) for p in p_cover for h in h_cover):
        return CONTRADICTION
    return NEUTRAL


def scene_label_of(premise, hypothesis):
    """The label that the cover sets of two term dicts imply by the scene's own rule: the rule
    the bundled triples (tools.snli_triples) were labelled with. label_of is the reader's."""
    relations = []
    for slot, h in hypothesis.items():
        p = premise.get(slot)
        if slot == 'place':
            places = _implied_places(premise['action'].cover)
            relations.append(scene_relation(slot, places & p.cover if p else places, h.cover))
        elif p is not None:
            relations.append(scene_relation(slot, p.cover, h.cover))
        else:
            relations.append(NEUTRAL)
    if CONTRADICTION in relations:
        return CONTRADICTION
    return NEUTRAL if NEUTRAL in relations else ENTAILMENT


# Places that a reader would not call exclusive: a park has a lake, a school a gym, a home a
# kitchen, and snow falls on streets and mountains.
_OVERLAPPING_PLACES = {frozenset(pair.split('/')) for pair in [
    'park/lake', 'park/river', 'park/field', 'park/snow', 'park/forest', 'park/stage',
    'park/street', 'park/pool', 'street/snow', 'street/stage', 'field/snow', 'field/mountain',
    'field/forest', 'field/river', 'field/lake', 'mountain/snow', 'mountain/forest',
    'mountain/lake', 'mountain/river', 'mountain/desert', 'forest/river', 'forest/lake',
    'forest/snow', 'lake/beach', 'river/beach', 'lake/river', 'lake/snow', 'river/snow',
    'beach/stage', 'beach/pool', 'pool/gym', 'stage/restaurant', 'stage/gym', 'stage/classroom',
    'kitchen/restaurant', 'kitchen/living_room', 'kitchen/classroom', 'classroom/gym',
    'home/living_room', 'home/kitchen', 'school/classroom', 'school/gym', 'school/library',
    'school/kitchen',
    'classroom/library', 'gym/living_room', 'desert/snow',
]}
# Activities that one body can do while walking, though the generator's postures differ.
_WHILE_WALKING = {'apple', 'sandwich', 'pizza', 'ice_cream', 'drink', 'guitar', 'violin', 'book'}


def _clash(slot, a, b):
    """Would a reader say that one scene cannot hold both values? True, False, or None where a
    careful reader could not tell."""
    if a == b:
        return False
    if slot == 'emotion':
        return True if {a, b} == {'happy', 'sad'} else None if _ANTONYMS[a] == b else False
    if slot in ('purpose', 'relation'):
        return None  # for fun or for money? with his sister, or with a friend who is both?
    if slot == 'look':
        if a[0] == 'fur' or b[0] == 'fur':
            return True
        return a[1] == b[1]  # a red shirt is not a blue shirt; a blue jacket may go over it
    if slot == 'place':
        if a[0] == b[0]:
            return True  # one pool, indoors or outdoors
        return None if frozenset((a[0], b[0])) in _OVERLAPPING_PLACES else True
    if slot != 'action':
        return True  # one subject, one number, one time of day
    if {a, b} <= {'sleep', 'bench', 'grass'}:
        return None  # asleep on a bench
    if {'walk', 'walk_dog'} & {a, b} and _WHILE_WALKING & {a, b}:
        return None
    if {ACTIONS[a].posture, ACTIONS[b].posture} == {'any', 'water'}:
        return None  # talking on a phone while swimming?
    return excludes(slot, a, b)


def _relation(slot, p_cover, h_cover):
    if p_cover <= h_cover:
        return ENTAILMENT
    clashes = {_clash(slot, p, h) for p in p_cover for h in h_cover}
    if clashes == {True}:
        return CONTRADICTION
    return NEUTRAL if False in clashes else None


def _implied_places(action_cover):
    """Where the activity can happen: building a sandcastle "outside" is at the beach."""
    return frozenset().union(*(_place_worlds(loc) for a in action_cover
                               for loc in ACTIONS[a].places.split()))


def _says_less(p, h):
    (p_verb, p_obj), (h_verb, h_obj) = p.phrase.split('|'), h.phrase.split('|')
    return p_verb == h_verb and not p_obj and bool(h_obj)


def label_of(premise, hypothesis):
    """The label a reader gives two term dicts (slot -> Term), or None where a careful reader
    could not tell."""
    meaning = {slot: _MEANING[(slot, t.phrase)] for slot, t in premise.items()}
    relations = []
    for slot, h in hypothesis.items():
        h_cover = _MEANING[(slot, h.phrase)]
        if slot == 'place':
            places = _implied_places(meaning['action']) if 'action' in meaning else None
            p = meaning.get('place')
            if p is None:  # "a man is surfing": at the beach; "a man is sleeping": not known
                relation = ENTAILMENT if places and places <= h_cover else NEUTRAL
                if places is not None and not places & h_cover:
                    relation = None  # sleeping in a kitchen, though the generator never says so
            else:
                if places:  # "sleeping outside": where one sleeps; "at home": any room
                    p = (places | {w for w in p if w[0] in ('home', 'school')}) & p or p
                relation = _relation(slot, p, h_cover)
        elif slot in meaning:
            relation = _relation(slot, meaning[slot], h_cover)
            if slot == 'action' and relation == ENTAILMENT and _says_less(premise[slot], h):
                relation = None  # "writing" and "writing a letter": one thing to the generator
        else:
            relation = NEUTRAL
        if relation == CONTRADICTION and slot in ('noun', 'count') and 'relation' in premise:
            relation = None  # "a man with his sister" / "a woman ...": the sister may be her
        relations.append(relation)
    if CONTRADICTION in relations:
        return CONTRADICTION
    if None in relations:
        return None
    return NEUTRAL if NEUTRAL in relations else ENTAILMENT
