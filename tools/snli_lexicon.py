"""The words of the generated corpora: subjects, counts, clothes, places, times, activities,
purposes and companions, with what each phrase stands for, and the part-of-speech tags of
SNLI's parse columns. bert.mini's vocabulary was built from these words: a new word would be
`<unk>` to it.
"""
from collections import namedtuple

HUMANS = ('man', 'woman', 'boy', 'girl')
ADULTS, KIDS = ('man', 'woman'), ('boy', 'girl')
ANIMALS = ('dog', 'cat')
_SUBJECT_WEIGHTS = {'man': 3, 'woman': 3, 'boy': 2, 'girl': 2, 'dog': 2, 'cat': 1}
FEMALE = ('woman', 'girl')

# noun term (singular) -> plural, covered subjects, singular possessive pronoun
NOUNS = {
    'man': ('men', ('man',), 'his'), 'guy': ('guys', ('man',), 'his'),
    'woman': ('women', ('woman',), 'her'), 'lady': ('ladies', ('woman',), 'her'),
    'boy': ('boys', ('boy',), 'his'), 'girl': ('girls', ('girl',), 'her'),
    'child': ('children', KIDS, 'their'), 'kid': ('kids', KIDS, 'their'),
    'person': ('people', HUMANS, 'their'),
    'dog': ('dogs', ('dog',), 'its'), 'cat': ('cats', ('cat',), 'its'),
    'animal': ('animals', ANIMALS, 'its'), 'pet': ('pets', ANIMALS, 'its'),
}
COUNTS = {'a': (1,), 'the': (1,), 'two': (2,), 'three': (3,), 'four': (4,), 'some': (2, 3, 4)}
COLOURS = ('red', 'blue', 'green', 'yellow', 'black', 'white', 'orange', 'pink', 'purple', 'gray',
           'brown')
GARMENTS = {'shirt': 'shirts', 'jacket': 'jackets', 'hat': 'hats', 'coat': 'coats',
            'sweater': 'sweaters', 'scarf': 'scarves', 'uniform': 'uniforms',
            'helmet': 'helmets', 'dress': 'dresses', 'skirt': 'skirts'}
FEMALE_GARMENTS = ('dress', 'skirt')
FUR = ('black', 'white', 'brown', 'gray')
EMOTIONS = ('happy', 'sad', 'tired', 'excited')
_ANTONYMS = {'happy': 'sad', 'sad': 'happy', 'tired': 'excited', 'excited': 'tired'}

# location -> can it be outdoors / indoors, and its phrases
LOCATIONS = {
    'beach': ('out', ('at the beach', 'on the beach', 'by the ocean')),
    'desert': ('out', ('in the desert',)),
    'park': ('out', ('in a park', 'in the park')),
    'street': ('out', ('on a city street', 'on the street')),
    'field': ('out', ('in a field', 'in a grassy field')),
    'snow': ('out', ('in the snow',)),
    'mountain': ('out', ('on a mountain',)),
    'lake': ('out', ('at a lake', 'by a lake')),
    'pool': ('in out', ('in a pool',)),
    'stage': ('in out', ('on a stage',)),
    'kitchen': ('in', ('in a kitchen',)),
    'restaurant': ('in', ('in a restaurant',)),
    'living_room': ('in', ('in a living room', 'at home')),
    'library': ('in', ('in a library',)),
    'gym': ('in', ('in a gym',)),
    'forest': ('out', ('in a forest', 'in the woods')),
    'river': ('out', ('by a river', 'at a river')),
    'classroom': ('in', ('in a classroom', 'at school')),
}
# time of day -> phrases; "during the day" covers two of them
TIMES = {'morning': ('in the morning',), 'afternoon': ('in the afternoon',),
         'night': ('at night',)}

# Why the posture matters: two activities contradict when one body cannot do both
# at once (asleep vs anything, swimming vs riding, ...). 'any' goes with all awake ones.
Action = namedtuple('Action', 'phrase kinds places posture group')
_HUM, _ALL = HUMANS, HUMANS + ANIMALS
ACTIONS = {
    'guitar': Action('play|a guitar', _HUM, 'street park beach stage living_room', 'still', False),
    'piano': Action('play|a piano', _HUM, 'stage living_room restaurant', 'seated', False),
    'violin': Action('play|a violin', _HUM, 'street park stage', 'still', False),
    'drums': Action('play|the drums', _HUM, 'street stage living_room', 'seated', False),
    'sing': Action('sing|a song', _HUM, 'stage street kitchen living_room park beach', 'any', True),
    'book': Action('read|a book', _HUM, 'park library living_room beach classroom', 'still',
                   False),
    'newspaper': Action('read|a newspaper', ADULTS, 'park living_room restaurant', 'still', False),
    'apple': Action('eat|an apple', _HUM, 'park kitchen beach street', 'still', False),
    'sandwich': Action('eat|a sandwich', _HUM, 'park kitchen restaurant beach', 'still', False),
    'pizza': Action('eat|pizza', _HUM, 'restaurant kitchen street park', 'still', True),
    'ice_cream': Action('eat|ice cream', _HUM, 'beach park street', 'still', True),
    'cook': Action('cook|dinner', ADULTS, 'kitchen restaurant', 'still', False),
    'paint': Action('paint|a picture', _HUM, 'park living_room beach street classroom', 'still',
                    False),
    'fish': Action('fish|', _HUM, 'lake beach river', 'still', False),
    'bike': Action('ride|a bike', _HUM, 'street park mountain beach', 'riding', False),
    'horse': Action('ride|a horse', _HUM, 'beach field desert mountain', 'riding', False),
    'skateboard': Action('ride|a skateboard', _HUM, 'street park', 'riding', False),
    'run': Action('run|', _ALL, 'beach park street field desert snow mountain forest', 'on_foot',
                  True),
    'walk': Action('walk|', _ALL, 'beach park street field desert snow mountain forest',
                   'on_foot', True),
    'walk_dog': Action('walk|a dog', _HUM, 'beach park street snow', 'on_foot', False),
    'dance': Action('dance|', _HUM, 'stage street beach living_room park gym', 'on_foot', True),
    'jump': Action('jump|', _ALL, 'beach park field snow', 'on_foot', True),
    'swim': Action('swim|', _HUM + ('dog',), 'beach lake pool river', 'water', True),
    'surf': Action('surf|', _HUM, 'beach', 'water', True),
    'sleep': Action('sleep|', _ALL, 'beach park living_room field', 'asleep', True),
    'bench': Action('sit|on a bench', _HUM + ('dog',), 'park street', 'seated', True),
    'grass': Action('sit|on the grass', _ALL, 'park field', 'seated', True),
    'tree': Action('climb|a tree', KIDS + ('cat',), 'park field', 'climbing', False),
    'rock': Action('climb|a rock', _HUM, 'mountain desert', 'climbing', False),
    'soccer': Action('play|soccer', _HUM, 'park field beach street', 'on_foot', True),
    'basketball': Action('play|basketball', _HUM, 'park gym street', 'on_foot', True),
    'tennis': Action('play|tennis', _HUM, 'park gym', 'on_foot', True),
    'ball': Action('throw|a ball', _HUM, 'park beach field street', 'any', False),
    'frisbee': Action('throw|a frisbee', _HUM, 'park beach field', 'any', False),
    'chase': Action('chase|a ball', KIDS + ANIMALS, 'park beach field snow living_room',
                    'on_foot', True),
    'catch': Action('catch|a frisbee', ('dog',), 'park beach field', 'on_foot', False),
    'dig': Action('dig|a hole', KIDS + ('dog',), 'beach field snow', 'still', True),
    'drink': Action('drink|water', _ALL, 'park kitchen lake river', 'still', True),
    'kite': Action('fly|a kite', _HUM, 'beach park field', 'any', False),
    'photo': Action('take|a picture', _HUM, 'beach park street mountain forest', 'any', False),
    'sandcastle': Action('build|a sandcastle', KIDS, 'beach', 'still', True),
    'ski': Action('ski|', _HUM, 'snow mountain', 'gliding', True),
    'phone': Action('talk|on a phone', ADULTS, 'street park kitchen restaurant', 'any', False),
    'cards': Action('play|cards', _HUM, 'living_room restaurant park', 'seated', True),
    'letter': Action('write|a letter', _HUM, 'library living_room classroom', 'still', False),
    'car': Action('wash|a car', ADULTS, 'street', 'still', True),
}
_MUSIC = ('guitar', 'piano', 'violin', 'drums')
_MOVING = ('run', 'walk', 'walk_dog', 'dance', 'jump', 'swim', 'surf', 'bike', 'horse',
           'skateboard', 'chase', 'catch', 'soccer', 'basketball', 'tennis')
# Other phrases for the same activity (paraphrases) or for several (hypernyms).
_ACTION_PHRASES = {
    'cycle|': ('bike',), 'ride|a bicycle': ('bike',), 'skateboard|': ('skateboard',),
    'be|asleep': ('sleep',), 'take|a nap': ('sleep',), 'cook|a meal': ('cook',),
    'sing|': ('sing',), 'paint|': ('paint',), 'ride|an animal': ('horse',),
    'walk|an animal': ('walk_dog',), 'play|an instrument': _MUSIC, 'play|music': _MUSIC,
    'make|music': _MUSIC + ('sing',), 'read|': ('book', 'newspaper'),
    'eat|': ('apple', 'sandwich', 'pizza', 'ice_cream'),
    'eat|food': ('apple', 'sandwich', 'pizza', 'ice_cream'), 'climb|': ('tree', 'rock'),
    'play|a sport': ('soccer', 'basketball', 'tennis'), 'write|': ('letter',),
    'talk|': ('phone',), 'make|a call': ('phone',),
    'move|': _MOVING + ('ski',), 'rest|': ('sleep', 'bench', 'grass'), 'sit|': ('bench', 'grass'),
}
_ACTION_PHRASES['walk|'] = ('walk', 'walk_dog')  # "walking" also covers walking a dog
# purpose phrase -> activities it goes with, subjects it goes with
PURPOSES = {
    'for money': ('guitar violin drums piano sing dance paint', _HUM),
    'for a competition': (('run swim surf bike horse skateboard dance sing soccer basketball '
                           'tennis rock ski cards sandcastle'), _HUM),
    'for fun': (('guitar sing dance run swim surf bike skateboard soccer basketball tennis paint '
                 'fish jump kite ski cards sandcastle'), _HUM),
    'for a school project': ('paint book letter photo', _HUM),
    'for charity': ('run swim bike sing cook guitar piano car', _HUM),
    'for a treat': ('catch jump chase', ('dog',)),
}
RELATIONS = {'human': ('friend', 'father', 'mother', 'sister', 'brother'), 'animal': ('owner',)}

VERBS = {'play': 'plays', 'sing': 'sings', 'read': 'reads', 'eat': 'eats', 'cook': 'cooks',
         'paint': 'paints', 'fish': 'fishes', 'ride': 'rides', 'cycle': 'cycles',
         'skateboard': 'skateboards', 'run': 'runs', 'walk': 'walks', 'dance': 'dances',
         'jump': 'jumps', 'swim': 'swims', 'surf': 'surfs', 'sleep': 'sleeps', 'take': 'takes',
         'sit': 'sits', 'climb': 'climbs', 'throw': 'throws', 'chase': 'chases',
         'catch': 'catches', 'dig': 'digs', 'drink': 'drinks', 'make': 'makes',
         'move': 'moves', 'rest': 'rests', 'fly': 'flies', 'build': 'builds', 'ski': 'skis',
         'talk': 'talks', 'write': 'writes', 'wash': 'washes'}
_ING_EXCEPTIONS = {'run': 'running', 'swim': 'swimming', 'sit': 'sitting', 'dig': 'digging'}


def _ing(verb):
    return _ING_EXCEPTIONS.get(verb) or verb.removesuffix('e') + 'ing'


def _build_tags():
    tags = {w: 'DT' for w in ('a', 'an', 'the', 'some')}
    tags.update({w: 'CD' for w in ('two', 'three', 'four')})
    tags.update({w: 'IN' for w in ('in', 'on', 'at', 'by', 'for', 'with', 'during')})
    tags.update({w: 'PRP$' for w in ('his', 'her', 'their', 'its')})
    tags.update({w: 'RB' for w in ('outside', 'outdoors', 'inside', 'indoors')})
    tags.update({w: 'JJ' for w in COLOURS + FUR + EMOTIONS + ('asleep', 'grassy')})
    tags.update({w: 'NNS' for w in [v[0] for v in NOUNS.values()] + list(GARMENTS.values())})
    tags.update({'drums': 'NNS', 'cards': 'NNS'})
    for verb, third in VERBS.items():
        tags.update({verb: 'VBP', third: 'VBZ', _ing(verb): 'VBG'})
    tags.update({'is': 'VBZ', 'are': 'VBP', 'wearing': 'VBG', '.': '.'})
    return tags


TAGS = _build_tags()