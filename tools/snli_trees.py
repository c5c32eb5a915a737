"""Sentences from terms: a parse tree per sentence, written out as SNLI's three text columns
(the binary parse, the Penn Treebank parse and the plain sentence)."""
from .snli_lexicon import GARMENTS, NOUNS, TAGS, VERBS, _ing


def _leaves(text):
    return [(TAGS.get(w, 'NN'), w) for w in text.split()]


def _np(text):
    leaves = _leaves(text)
    return leaves[0] if len(leaves) == 1 else ('NP', leaves)


def _pp(text):
    if ' ' not in text:
        return ('ADVP', _leaves(text))
    prep, rest = text.split(' ', 1)
    return ('PP', [('IN', prep), _np(rest)])


def _subject(terms):
    count, noun = terms['count'].phrase, terms['noun'].phrase
    plural = count not in ('a', 'the')
    words = [count]
    if 'emotion' in terms:
        words.append(terms['emotion'].phrase)
    look = terms['look'].phrase if 'look' in terms else None
    if look and look[0] == 'fur':
        words.append(look[1])
    words.append(NOUNS[noun][0] if plural else noun)
    if words[0] == 'a' and words[1][0] in 'aeiou':
        words[0] = 'an'
    np = ('NP', _leaves(' '.join(words)))
    if look and look[0] == 'wearing':
        np = ('NP', [np, ('VP', [('VBG', 'wearing'), ('JJ', look[1])])])
    elif look and look[0] == 'in':
        _, colour, garment = look
        item = GARMENTS[garment] if plural else garment
        item = f'{colour} {item}' if colour else item
        if not plural:
            item = ('an ' if item[0] in 'aeiou' else 'a ') + item
        np = ('NP', [np, ('PP', [('IN', 'in'), _np(item)])])
    return np, plural


def _predicate(terms, plural, form):
    """The verb phrase: 'is playing ...' (prog), 'plays ...' (simple) or 'playing ...' (frag)."""
    be = ('VBP', 'are') if plural else ('VBZ', 'is')
    tail = []
    if 'relation' in terms:
        pron = 'their' if plural else NOUNS[terms['noun'].phrase][2]
        tail.append(_pp(f'with {pron} {terms["relation"].phrase}'))
    for slot in ('place', 'time', 'purpose'):
        if slot in terms:
            tail.append(_pp(terms[slot].phrase))
    if 'action' not in terms:
        return ('VP', [be] + tail)
    verb, obj = terms['action'].phrase.split('|')
    if obj:
        tail.insert(0, _pp(obj) if obj.split()[0] in ('on', 'with') else _np(obj))
    if verb == 'be':
        head = [('ADJP', tail[:1])] if form == 'frag' else [be, ('ADJP', tail[:1])]
        return ('VP', head + tail[1:])
    if form == 'simple':
        return ('VP', [(TAGS[v], v) for v in [verb if plural else VERBS[verb]]] + tail)
    gerund = ('VP', [('VBG', _ing(verb))] + tail)
    return gerund if form == 'frag' else ('VP', [be, gerund])


def _tree(terms, form):
    np, plural = _subject(terms)
    vp = _predicate(terms, plural, form)
    top = ('NP', [np, vp, ('.', '.')]) if form == 'frag' else ('S', [np, vp, ('.', '.')])
    return ('ROOT', [top])


def _words(node):
    if isinstance(node[1], str):
        return [node[1]]
    return [w for kid in node[1] for w in _words(kid)]


def _binary(node):
    """SNLI's binary-parse column: every inner node has two children."""
    if isinstance(node[1], str):
        return node[1]
    parts = [_binary(kid) for kid in node[1]]
    if node[0] == 'VP':  # the verb takes its complements one at a time from the left
        out = parts[0]
        for part in parts[1:]:
            out = f'( {out} {part} )'
        return out
    out = parts[-1]
    for part in reversed(parts[:-1]):
        out = f'( {part} {out} )'
    return out


def _ptb(node):
    if isinstance(node[1], str):
        return f'({node[0]} {node[1]})'
    return f'({node[0]} ' + ' '.join(_ptb(kid) for kid in node[1]) + ')'


def _capitalize(node):
    """The same tree with its first word capitalized, as a sentence starts."""
    if isinstance(node[1], str):
        return (node[0], node[1][0].upper() + node[1][1:])
    return (node[0], [_capitalize(node[1][0])] + node[1][1:])


def _columns(terms, form):
    """(binary parse, parse, sentence) of one sentence."""
    tree = _capitalize(_tree(terms, form))
    words = _words(tree)
    return _binary(tree), _ptb(tree), ' '.join(words[:-1]) + '.'


def premise_form(rng):
    return rng.choices(('prog', 'frag', 'simple'), weights=(60, 25, 15))[0]


def _forms():
    """Rendered phrase -> (slot, term phrase), for every phrase a sentence's tail can hold."""
    from .snli_terms import TERMS  # terms build on the lexicon, as these trees do
    forms = {}
    for t in TERMS['action']:
        verb, obj = t.phrase.split('|')
        for head in [''] if verb == 'be' else [_ing(verb), VERBS[verb], verb]:
            forms[f'{head} {obj}'.strip()] = ('action', t.phrase)
    for slot in ('place', 'time', 'purpose'):
        forms.update({t.phrase: (slot, t.phrase) for t in TERMS[slot]})
    return forms


def terms_of(sentence):
    """The terms (slot -> Term) of a generated sentence: `_columns` read backwards, so that
    pairs labelled by hand can be checked against label_of whatever corpus they came from."""
    from .snli_lexicon import COLOURS, EMOTIONS, FUR, RELATIONS
    from .snli_terms import TERMS
    words = sentence.lower().removesuffix('.').replace(' .', '').split()
    said = {'count': 'a' if words[0] == 'an' else words.pop(0)}
    if words[0] == 'an':
        words.pop(0)
    if words[0] in EMOTIONS:
        said['emotion'] = words.pop(0)
    nouns = {n: n for n in NOUNS} | {v[0]: n for n, v in NOUNS.items()}
    if words[0] in FUR and words[1] in nouns:
        said['look'] = ('fur', words.pop(0))
    said['noun'] = nouns[words.pop(0)]
    garments = {g: g for g in GARMENTS} | {v: g for g, v in GARMENTS.items()}
    if words[0] == 'wearing' and words[1] in COLOURS:
        said['look'] = ('wearing', words[1])
        del words[:2]
    elif words[0] == 'in':
        rest = words[2:] if words[1] in ('a', 'an') else words[1:]
        colour = rest[0] if rest[0] in COLOURS else None
        rest = rest[1:] if colour else rest
        if rest[0] in garments:
            said['look'] = ('in', colour, garments[rest[0]])
            words = rest[1:]
    if words and words[0] in ('is', 'are'):
        words.pop(0)
    text, forms = ' '.join(words), _forms()
    relations = [r for group in RELATIONS.values() for r in group]
    while text:
        if text.startswith('with '):
            _, _, relation, *more = text.split(' ')
            assert relation in relations, sentence
            said['relation'], text = relation, ' '.join(more)
            continue
        form = max((f for f in forms if text == f or text.startswith(f + ' ')), key=len)
        slot, phrase = forms[form]
        said[slot], text = phrase, text[len(form):].strip()
    return {slot: next(t for t in TERMS[slot] if t.phrase == phrase)
            for slot, phrase in said.items()}
