"""Chinese and French editions of the notebooks, written from the English ones and gettext catalogues.

    python -m tools.i18n update        (make editions) extract, merge, write the editions
    python -m tools.i18n check         counts and problems; tests/test_i18n.py holds the same
    python -m tools.i18n html BUILD    (make run) render the editions with BUILD's fresh outputs

The English notebooks notebooks/<framework>/<topic>.ipynb are the one source. Each markdown cell
gives one catalogue entry per stretch of prose (msgctxt: the cell id; `<id>.2` and so on after a
fenced code block, which is never translated but copied). `update` writes the template
build/i18n/<framework>/<topic>.pot, merges it into each i18n/<lang>/<framework>/<topic>.po with GNU
msgmerge (an entry whose English changed becomes fuzzy and keeps its old English as `#| msgid`),
copies a translation from the twin notebook's catalogue where the English agrees apart from
framework words, and writes notebooks/<lang>/<framework>/<topic>.ipynb: the English notebook with
a note cell first and the markdown translated; code cells and their outputs are the English ones.
An entry that is untranslated or fuzzy shows the English text, never a stale translation.
Reading and writing catalogues needs polib only; msgmerge is needed by `update` alone.
"""
import argparse
import copy
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import polib

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / 'notebooks'
I18N = REPO / 'i18n'
TRACKS = ('pytorch', 'mxnet')
LANGUAGES = {
    'zh': {'name': 'Chinese', 'po': 'zh_CN', 'html': 'zh-Hans'},
    'fr': {'name': 'French', 'po': 'fr', 'html': 'fr'},
}
UPDATE_HINT = ('run `make editions`, translate the entries it reports in {po} (a fuzzy entry '
               'keeps its old English under `#| msgid`: update the translation, then delete the '
               '`#, fuzzy` line), and run `make editions` again')
HEADER = ('{name} translation of notebooks/{fw}/{topic}.ipynb (msgctxt: the cell id). Edit with\n'
          'any PO editor; `make editions` merges the English in and writes the edition.')
NOTE_ID = 'edition-note'
NOTE = ('> **{name} edition.** `make editions` writes this notebook from the English notebook '
        '[`{fw}/{topic}.ipynb`](../../{fw}/{topic}.ipynb) and the catalogue '
        '`i18n/{lang}/{fw}/{topic}.po`: edit those, never this file. Only the prose is '
        'translated. The code, its comments, everything it prints and the labels of its figures '
        'stay in English, exactly as in the English notebook; the text names the English word '
        'that each figure uses.')
FENCE = re.compile(r'(^```[^\n]*\n.*?^```[ \t]*$)', re.MULTILINE | re.DOTALL)
FRAMEWORK_WORDS = re.compile(r'PyTorch|MXNet/Gluon|MXNet|Gluon|torch|mxnet|pytorch')
# CJK fonts for the HTML rendering, the first one the reader's machine has wins.
CJK_CSS = ('body, .jp-RenderedHTMLCommon { font-family: system-ui, "Noto Sans CJK SC", '
           '"Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", '
           '"WenQuanYi Micro Hei", sans-serif; }')


# -- paths ------------------------------------------------------------------------------------

def topics():
    return sorted(p.stem for p in (NOTEBOOKS / 'pytorch').glob('*.ipynb'))


def english_path(fw, topic, root=NOTEBOOKS):
    return root / fw / f'{topic}.ipynb'


def edition_path(lang, fw, topic, root=NOTEBOOKS):
    return root / lang / fw / f'{topic}.ipynb'


def po_path(lang, fw, topic):
    return I18N / lang / fw / f'{topic}.po'


def rel(path):
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def every_edition():
    return [(lang, fw, topic) for lang in LANGUAGES for fw in TRACKS for topic in topics()]


# -- extraction -------------------------------------------------------------------------------

def read_notebook(path):
    return json.loads(Path(path).read_text(encoding='utf-8'))


def dump_notebook(nb):
    """The text nbformat writes for `nb` (sorted keys, indent 1, UTF-8 kept)."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + '\n'


def source(cell):
    src = cell['source']
    return src if isinstance(src, str) else ''.join(src)


def pieces(text):
    """Split markdown into [prose, fence, prose, ...]: the fenced code blocks are never
    translated, the prose between them is (with its surrounding blank lines kept aside)."""
    return FENCE.split(text)


def contexts(cell_id, text):
    """[(msgctxt, English prose)] of one markdown cell, in order."""
    found, k = [], 0
    for i, part in enumerate(pieces(text)):
        if i % 2 == 0 and part.strip():
            k += 1
            found.append((cell_id if k == 1 else f'{cell_id}.{k}', part.strip()))
    return found


def note_text(lang, fw, topic):
    return NOTE.format(name=LANGUAGES[lang]['name'], fw=fw, topic=topic, lang=lang)


def english_entries(lang, fw, topic, nb=None):
    """[(msgctxt, msgid)] that a catalogue must translate: the note, then the notebook's prose."""
    nb = nb if nb is not None else read_notebook(english_path(fw, topic))
    found = [(NOTE_ID, note_text(lang, fw, topic))]
    for cell in nb['cells']:
        if cell['cell_type'] == 'markdown':
            if 'id' not in cell:
                raise ValueError(f'{fw}/{topic}.ipynb has a markdown cell without an id: give '
                                 'every cell an id (nbformat 4.5; Jupyter adds them when it '
                                 'saves) so that its translation can find it')
            found.extend(contexts(cell['id'], source(cell)))
    return found


def template(lang, fw, topic, nb=None):
    pot = polib.POFile(wrapwidth=0)
    pot.header = HEADER.format(name=LANGUAGES[lang]['name'], fw=fw, topic=topic)
    pot.metadata = header(lang)
    for ctxt, msgid in english_entries(lang, fw, topic, nb):
        pot.append(polib.POEntry(msgctxt=ctxt, msgid=msgid, msgstr=''))
    return pot


def header(lang):
    return {'Project-Id-Version': 'd2lmini notebooks', 'Language': LANGUAGES[lang]['po'],
            'MIME-Version': '1.0', 'Content-Type': 'text/plain; charset=UTF-8',
            'Content-Transfer-Encoding': '8bit'}


# -- catalogues -------------------------------------------------------------------------------

def load_po(path):
    return polib.pofile(str(path), wrapwidth=0) if Path(path).exists() else None


def translations(po):
    """{msgctxt: (msgid, msgstr)} of the entries that are translated and not fuzzy."""
    if po is None:
        return {}
    return {e.msgctxt: (e.msgid, e.msgstr) for e in po
            if e.msgstr and not e.fuzzy and not e.obsolete}


def render(text, ctxts, table):
    """`text` (one markdown cell) with each prose stretch replaced by its translation, if the
    catalogue translates exactly this English; fenced code blocks and spacing stay."""
    parts, by_ctxt = pieces(text), iter(ctxts)
    for i in range(0, len(parts), 2):
        if not parts[i].strip():
            continue
        ctxt, english = next(by_ctxt)
        msgid, msgstr = table.get(ctxt, (None, None))
        if msgid == english:
            lead = parts[i][:len(parts[i]) - len(parts[i].lstrip())]
            tail = parts[i][len(parts[i].rstrip()):]
            parts[i] = lead + msgstr + tail
    return ''.join(parts)


def lines(text):
    return text.splitlines(keepends=True)


def edition(lang, fw, topic, english=None, po=None):
    """The translated notebook as `make editions` writes it (a dict)."""
    english = english if english is not None else read_notebook(english_path(fw, topic))
    po = po if po is not None else load_po(po_path(lang, fw, topic))
    table = translations(po)
    nb = copy.deepcopy(english)
    for cell in nb['cells']:
        if cell['cell_type'] == 'markdown':
            text = source(cell)
            cell['source'] = lines(render(text, contexts(cell['id'], text), table))
    note = note_text(lang, fw, topic)
    msgid, msgstr = table.get(NOTE_ID, (None, None))
    nb['cells'].insert(0, {'cell_type': 'markdown', 'id': NOTE_ID,
                           'metadata': {'tags': [NOTE_ID]},
                           'source': lines(msgstr if msgid == note else note)})
    return nb


def framework_map(english, twin_english):
    """{framework word of `english`: its counterpart in `twin_english`}, or None where the two
    differ beyond framework words or a word has two counterparts."""
    if FRAMEWORK_WORDS.sub('FW', english) != FRAMEWORK_WORDS.sub('FW', twin_english):
        return None
    mapping = {}
    for a, b in zip(FRAMEWORK_WORDS.findall(english), FRAMEWORK_WORDS.findall(twin_english)):
        if mapping.setdefault(a, b) != b:
            return None
    return mapping


def fill_from_twin(po, twin_po):
    """Translate the untranslated and fuzzy entries of `po` from the twin notebook's catalogue
    where the English is the same apart from framework words (whatever the cell ids); returns
    the contexts filled."""
    twin = {FRAMEWORK_WORDS.sub('FW', msgid): (msgid, msgstr)
            for msgid, msgstr in translations(twin_po).values()}
    filled = []
    for entry in po:
        found = twin.get(FRAMEWORK_WORDS.sub('FW', entry.msgid))
        if entry.obsolete or (entry.msgstr and not entry.fuzzy) or found is None:
            continue
        mapping = framework_map(found[0], entry.msgid)
        if mapping is None:
            continue
        entry.msgstr = FRAMEWORK_WORDS.sub(lambda m, words=mapping: words.get(m.group(), m.group()),
                                           found[1])
        unfuzzy(entry)
        filled.append(entry.msgctxt)
    return filled


def unfuzzy(entry):
    if 'fuzzy' in entry.flags:
        entry.flags.remove('fuzzy')
    entry.previous_msgctxt = entry.previous_msgid = None


def merge(pot, po_file):
    """msgmerge the template into the catalogue (created if new); returns the merged POFile."""
    po_file.parent.mkdir(parents=True, exist_ok=True)
    if not po_file.exists():
        pot.save(str(po_file))
        return load_po(po_file)
    msgmerge = shutil.which('msgmerge')
    if msgmerge is None:
        sys.exit('make editions needs msgmerge, from GNU gettext: install it (Debian and Ubuntu: '
                 'sudo apt-get install gettext; macOS: brew install gettext; conda: conda '
                 'install -c conda-forge gettext) and run it again')
    # The template goes to build/i18n/ (for PO editors); a catalogue elsewhere keeps it beside.
    pot_file = (REPO / 'build' / 'i18n' / po_file.relative_to(I18N)
                if po_file.is_relative_to(I18N) else po_file).with_suffix('.pot')
    pot_file.parent.mkdir(parents=True, exist_ok=True)
    pot.save(str(pot_file))
    subprocess.run([msgmerge, '--quiet', '--previous', '--no-wrap', '--update', '--backup=off',
                    str(po_file), str(pot_file)], check=True)
    po = load_po(po_file)
    for entry in po.obsolete_entries():  # the cell is gone; its translation is in git
        po.remove(entry)
    for entry in po:
        # A cell that only changed its id keeps its translation: the English is the same.
        if entry.fuzzy and entry.previous_msgid == entry.msgid:
            unfuzzy(entry)
    return po


def counts(lang, fw, topic, po=None):
    """(entries, translated, fuzzy, untranslated) of a catalogue against today's English."""
    po = po if po is not None else load_po(po_path(lang, fw, topic))
    by_ctxt = {e.msgctxt: e for e in po or [] if not e.obsolete}
    n = translated = fuzzy = 0
    for ctxt, msgid in english_entries(lang, fw, topic):
        n += 1
        entry = by_ctxt.get(ctxt)
        if entry is None or not entry.msgstr:
            continue
        if entry.fuzzy or entry.msgid != msgid:
            fuzzy += 1
        else:
            translated += 1
    return n, translated, fuzzy, n - translated - fuzzy


def update(verbose=True):
    """make editions: every catalogue merged, filled from its twin, and every edition written."""
    report = []
    merged = {}
    for lang, fw, topic in every_edition():
        merged[lang, fw, topic] = merge(template(lang, fw, topic), po_path(lang, fw, topic))
    for (lang, fw, topic), po in merged.items():
        twin_fw = TRACKS[1 - TRACKS.index(fw)]
        for ctxt in fill_from_twin(po, merged[lang, twin_fw, topic]):
            report.append(f'{rel(po_path(lang, fw, topic))}: {ctxt} copied from its '
                          f'{twin_fw} twin')
    for (lang, fw, topic), po in merged.items():
        po.header = HEADER.format(name=LANGUAGES[lang]['name'], fw=fw, topic=topic)
        po.metadata = header(lang)
        po.save(str(po_path(lang, fw, topic)))
        out = edition_path(lang, fw, topic)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(dump_notebook(edition(lang, fw, topic, po=load_po(po_path(lang, fw,
                                                                                   topic)))),
                       encoding='utf-8')
        for entry in po:
            if entry.fuzzy or not entry.msgstr:
                state = 'fuzzy (its English changed)' if entry.fuzzy else 'untranslated'
                report.append(f'{rel(po_path(lang, fw, topic))}: {entry.msgctxt} {state}')
    if verbose:
        print(*report, sep='\n')
        print_counts()
    return report


def print_counts():
    total = Counter()
    for lang, fw, topic in every_edition():
        n, ok, fuzzy, missing = counts(lang, fw, topic)
        total.update(entries=n, translated=ok, fuzzy=fuzzy, untranslated=missing)
        print(f'{rel(po_path(lang, fw, topic))}: {n} entries, {ok} translated, {fuzzy} fuzzy, '
              f'{missing} untranslated')
    print('all: {entries} entries, {translated} translated, {fuzzy} fuzzy, '
          '{untranslated} untranslated'.format(**total))
    return total


# -- checks (each returns a list of problems; tests/test_i18n.py asserts they are empty) --------

def check_catalogue(lang, fw, topic, english=None, po=None):
    """Every English prose stretch has a translated, not fuzzy entry for exactly its text."""
    path = po_path(lang, fw, topic)
    po = po if po is not None else load_po(path)
    if po is None:
        return [f'{rel(path)} is missing: ' + UPDATE_HINT.format(po=rel(path))]
    by_ctxt = {e.msgctxt: e for e in po if not e.obsolete}
    wanted = english_entries(lang, fw, topic, english)
    problems = []
    for ctxt, msgid in wanted:
        entry = by_ctxt.get(ctxt)
        if entry is None:
            problems.append(f'{ctxt}: not in the catalogue (new English text)')
        elif entry.msgid != msgid:
            problems.append(f'{ctxt}: the English changed since it was translated')
        elif entry.fuzzy:
            problems.append(f'{ctxt}: fuzzy (its translation awaits review)')
        elif not entry.msgstr:
            problems.append(f'{ctxt}: untranslated')
    stale = sorted(set(by_ctxt) - {c for c, _ in wanted})
    if stale:
        problems.append(f'entries for text no longer in the English notebook: {", ".join(stale)}')
    if problems:
        return [f'{rel(path)}: {p}' for p in problems] + [
            f'{rel(path)} does not match {rel(english_path(fw, topic))}: '
            + UPDATE_HINT.format(po=rel(path))]
    return []


def check_edition(lang, fw, topic, english=None, text=None):
    """The committed edition (or `text`) is what the tool writes from the English notebook (or
    `english`) and the catalogue; its code cells, with their outputs, are the English ones."""
    path, source_path = edition_path(lang, fw, topic), english_path(fw, topic)
    hint = (f'{rel(path)} is not what `make editions` writes from {rel(source_path)} and '
            f'{rel(po_path(lang, fw, topic))}: run `make editions` (never edit an edition by hand)')
    if text is None and not path.exists():
        return [f'{rel(path)} is missing: run `make editions`']
    text = text if text is not None else path.read_text(encoding='utf-8')
    english = english if english is not None else read_notebook(source_path)
    ed = json.loads(text)
    problems = []
    cells = ed['cells']
    if not cells or cells[0].get('id') != NOTE_ID:
        problems.append(f'{rel(path)}: the first cell is not the edition note')
    else:
        cells = cells[1:]
    if len(cells) != len(english['cells']):
        problems.append(f'{rel(path)} has {len(cells)} cells after its note, the English '
                        f'notebook {len(english["cells"])}')
    for i, (mine, theirs) in enumerate(zip(cells, english['cells'])):
        if theirs['cell_type'] == 'code' and mine != theirs:
            problems.append(f'{rel(path)}: code cell {theirs.get("id", i)} (its source, outputs '
                            'or metadata) differs from the English one')
        elif (mine['cell_type'], mine.get('id'), mine['metadata']) != (
                theirs['cell_type'], theirs.get('id'), theirs['metadata']):
            problems.append(f'{rel(path)}: cell {i + 1} is not the English cell '
                            f'{theirs.get("id", i)}')
        elif pieces(source(mine))[1::2] != pieces(source(theirs))[1::2]:
            problems.append(f'{rel(path)}: the code blocks of markdown cell {theirs["id"]} '
                            'differ from the English ones')
    if text != dump_notebook(edition(lang, fw, topic, english)):
        problems.append(hint)
    return problems


INLINE_CODE = re.compile(r'(`+)(.+?)\1', re.DOTALL)
MATH = re.compile(r'\$\$.+?\$\$|\$[^$\n]+\$', re.DOTALL)
LINK = re.compile(r'\]\(([^)\s]+)\)')


def prose_only(text):
    """Text with inline code, math and link targets removed: what a translator writes."""
    text = INLINE_CODE.sub('C', text)  # a Latin stand-in, for the spacing rules
    text = MATH.sub('M', text)
    return re.sub(r'\]\([^)]*\)', ']', text)


def markup(text):
    """What must survive translation: code spans, math, link targets (as multisets), and the
    counts of the elements markdown renders (emphasis, headings, list items, table cells...)."""
    found = Counter()
    for _, code in INLINE_CODE.findall(text):
        found['code ' + ' '.join(code.split())] += 1  # a line break in a code span is a space
    for math in MATH.findall(INLINE_CODE.sub(' ', text)):
        found['math ' + math] += 1
    for target in LINK.findall(INLINE_CODE.sub(' ', text)):
        found['link ' + target] += 1
    for kind in rendered(text):
        found[kind] += 1
    return found


def rendered(text):
    """The kinds of markdown element in `text` as mistune (the CommonMark parser that nbconvert
    uses) reads it: a `**` or `*` that does not open or close emphasis where it should, as
    happens next to Chinese punctuation, shows up here."""
    import mistune  # with nbconvert, so with Jupyter
    md = mistune.create_markdown(renderer=None, plugins=['table', 'strikethrough'])
    stack, kinds = list(md(text)), []
    while stack:
        node = stack.pop()
        kind = node['type']
        if kind == 'heading':
            kind += str(node.get('attrs', {}).get('level'))
        if kind not in ('text', 'paragraph', 'blank_line', 'softbreak', 'linebreak',
                        'block_text', 'table_head', 'table_body'):
            kinds.append(kind)
        stack.extend(node.get('children', []))
    return kinds


GLOSS = re.compile(r'(?<=[(（])\*([^*\n]+)\*')


def glosses(msgid, msgstr):
    """How many glosses the translation adds: italics right after an opening parenthesis that
    hold words of the English entry, words the English does not emphasise, as in
    `(*fine-tuning*)`."""
    english = msgid.replace('*', '').lower()
    emphasised = {t.lower() for t in re.findall(r'(?<!\*)\*([^*\n]+)\*(?!\*)', msgid)}
    return sum(m.group(1).lower() in english and m.group(1).lower() not in emphasised
               for m in GLOSS.finditer(msgstr))


def check_markup(msgid, msgstr):
    """The translation keeps the English entry's markup. It may add glosses (the English term
    in italics in parentheses, for a reader who meets it elsewhere), nothing else."""
    english, translated = markup(msgid), markup(msgstr)
    translated['emphasis'] -= glosses(msgid, msgstr)
    translated += Counter()  # drops counts of 0
    if english == translated:
        return []
    def listed(found):
        return ', '.join(f'{k!r} x{v}' for k, v in found.items()) or 'nothing'
    return [(f'markup differs from the English: lost {listed(english - translated)}; '
            f'added {listed(translated - english)}')]


def load_glossary(lang):
    """[(English pattern, chosen pattern, avoid pattern or None, note)] from i18n/<lang>/
    glossary.tsv: tab-separated, `#` starts a comment line, the first line names the columns."""
    rows = []
    path = I18N / lang / 'glossary.tsv'
    text = [ln for ln in path.read_text(encoding='utf-8').splitlines()
            if ln.strip() and not ln.startswith('#')]
    for line in text[1:]:
        english, chosen, avoid, note = (line.split('\t') + ['', '', ''])[:4]
        rows.append((english, chosen, avoid or None, note))
    return rows


def check_glossary(msgid, msgstr, glossary):
    """An English term in the entry must be translated with the chosen word; an avoided word
    never appears."""
    english, translated = prose_only(msgid), prose_only(msgstr)
    problems = []
    for term, chosen, avoid, _ in glossary:
        if (re.search(rf'(?<![\w-])(?:{term})(?![\w-])', english, re.IGNORECASE)
                and not re.search(chosen, translated, re.IGNORECASE)):
            problems.append(f'"{term}" is in the English but its translation "{chosen}" is not')
        if avoid and re.search(avoid, translated, re.IGNORECASE):
            problems.append(f'"{avoid}" is used: the glossary translates "{term}" as "{chosen}"')
    return problems


LINE_START = re.compile(r'^\s*(?:>\s*)*(?:#+ |[*+-] |\d+\. )?\s*')  # markers, not prose
FR_PUNCT = re.compile(r'(.)([;:!?»])|(«)(.)')
NBSP = '\u00a0\u202f'
CJK = r'\u3400-\u9fff\uf900-\ufaff'
ZH_RULES = [
    (re.compile(rf'[{CJK}][,;:!?]|[,;:!?][{CJK}]'), 'ASCII punctuation next to Chinese: use ，；：！？'),
    (re.compile(rf'[{CJK}]\.(?!\w)'), 'ASCII full stop after Chinese: use 。'),
    (re.compile(rf'[{CJK}][()]|[()][{CJK}]'), 'ASCII parenthesis next to Chinese: use （）'),
    (re.compile(rf'[{CJK}] +[\w`*\[<]|[\w`*\]>)] +[{CJK}]'),
     'space between Chinese and Latin text or digits: write them together'),
    (re.compile(rf'[{CJK}“”] +[，。；：！？、（）]|[，。；：！？、（）] +[^\s|]'),
     'space around full-width punctuation'),
    (re.compile(r'"'), 'straight double quote: use “ ”'),
]


def check_typography(lang, msgstr):
    """French: a no-break space (U+00A0, or the narrow U+202F) before ; : ! ? » and after «,
    and « » rather than straight quotes. Chinese: full-width punctuation, no space between
    Chinese and Latin words or digits. Code, math and link targets are left out."""
    problems = []
    for line in prose_only(msgstr).splitlines():
        if re.fullmatch(r'[\s|:-]+', line):  # a table's alignment row
            continue
        line = LINE_START.sub('', line)
        if lang == 'fr':
            for m in FR_PUNCT.finditer(line):
                before, mark = (m.group(1), m.group(2)) if m.group(2) else (m.group(4), '«')
                if before not in NBSP:
                    problems.append(f'no no-break space {"after" if mark == "«" else "before"} '
                                    f'{mark!r}: ...{line[max(0, m.start() - 20):m.end() + 5]}...')
            if '"' in line:
                problems.append(f'straight double quote (use « »): {line.strip()[:60]}')
        elif lang == 'zh':
            for rule, why in ZH_RULES:
                m = rule.search(line)
                if m:
                    problems.append(f'{why}: ...{line[max(0, m.start() - 10):m.end() + 10]}...')
    return problems


def entry_problems(lang, fw, topic, po=None, glossary=None):
    """Markup, glossary and typography problems of every translated entry of a catalogue."""
    po = po if po is not None else load_po(po_path(lang, fw, topic))
    glossary = glossary if glossary is not None else load_glossary(lang)
    problems = []
    for entry in po or []:
        if entry.obsolete or not entry.msgstr or entry.fuzzy:
            continue
        for p in (check_markup(entry.msgid, entry.msgstr)
                  + check_glossary(entry.msgid, entry.msgstr, glossary)
                  + check_typography(lang, entry.msgstr)):
            problems.append(f'{rel(po_path(lang, fw, topic))}: {entry.msgctxt}: {p}')
    return problems


def check_all():
    problems = []
    for lang, fw, topic in every_edition():
        problems += check_catalogue(lang, fw, topic)
        problems += check_edition(lang, fw, topic)
        problems += entry_problems(lang, fw, topic)
    return problems


# -- HTML for make run ---------------------------------------------------------------------------

def html(build):
    """Write build/<lang>/<fw>/<topic>.{ipynb,html}: each edition with the outputs of the freshly
    executed English notebook in build/<fw>/ (skipped where that run is missing)."""
    import nbformat
    from nbconvert import HTMLExporter
    written = []
    for lang, fw, topic in every_edition():
        executed = english_path(fw, topic, build)
        if not executed.exists():
            print(f'no {rel(executed)}: {lang}/{fw}/{topic} not rendered')
            continue
        nb = edition(lang, fw, topic, english=read_notebook(executed))
        out = edition_path(lang, fw, topic, build)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(dump_notebook(nb), encoding='utf-8')
        page = HTMLExporter().from_notebook_node(nbformat.reads(dump_notebook(nb), 4))[0]
        page = re.sub(r'<html[^>]*>', f'<html lang="{LANGUAGES[lang]["html"]}">', page, count=1)
        if lang == 'zh':
            page = page.replace('</head>', f'<style>{CJK_CSS}</style>\n</head>', 1)
        out.with_suffix('.html').write_text(page, encoding='utf-8')
        written.append(out)
    if written:
        print(f'translated editions (zh, fr) with these outputs are in {build}/zh/ and '
              f'{build}/fr/')
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tools.i18n',
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('update', help='merge the English into the catalogues, write the editions')
    sub.add_parser('check', help='print the counts and every problem (what the tests hold)')
    render_cmd = sub.add_parser('html', help='render the editions with the outputs in BUILD')
    render_cmd.add_argument('build', type=Path, help='folder that `make run` wrote')
    args = parser.parse_args(argv)
    if args.command == 'update':
        update()
        return 0
    if args.command == 'html':
        html(args.build)
        return 0
    print_counts()
    problems = check_all()
    print(*problems, sep='\n')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
