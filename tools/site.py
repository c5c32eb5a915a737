"""Build the static site (make site): one page per topic, a PyTorch and an MXNet tab on every code
cell, in every edition whose notebooks exist.

    python -m tools.site [OUT]            (default build/site)

Our part is the pairing. For each edition and topic it reads the two executed twins (their stored
outputs: nothing runs again) and writes a MyST Markdown page in which
- a markdown cell that both twins share appears once, and one that differs (a framework note)
  becomes a tab set;
- every pair of code cells becomes a tab set: each tab holds its framework's code and that
  notebook's own outputs (text as a literal block, figures as PNG files), without `In [n]` labels;
- a line at the top links the editions, the notebooks (downloads), the book's section and the
  other topic; an edition's note on how its notebook files are made (tag edition-note) is left out.
Sphinx does the rest (site/conf.py): myst-parser reads the pages, sphinx-design turns the tab sets
into tabs synchronised by their `sync` key (the choice is kept in the browser's localStorage, so
it holds on the next page and after a reload), furo lays the pages out for phones and wide
screens, and Sphinx writes the search index (Chinese words split by jieba). Nothing is fetched
from another host when a page opens.

English is the edition at the root (OUT/), others go to OUT/<code>/: zh and fr, read from
notebooks/<code>/{pytorch,mxnet}/.
"""
import argparse
import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = {'pytorch': 'PyTorch', 'mxnet': 'MXNet'}
# topic: the book's section (English; Chinese where the book has it), in reading order
TOPICS = {
    'bert-pretraining': 'chapter_natural-language-processing-pretraining/bert-pretraining.html',
    'natural-language-inference-bert':
        'chapter_natural-language-processing-applications/natural-language-inference-bert.html',
}
# edition: (folder under notebooks/, its name in the language switch, Sphinx language, the book)
EDITIONS = {
    'en': ('.', 'English', 'en', 'https://d2l.ai/'),
    'zh': ('zh', '中文', 'zh_CN', 'https://zh.d2l.ai/'),
    'fr': ('fr', 'Français', 'fr', 'https://d2l.ai/'),
}
LABELS = {  # the line of links at the top of a topic page, with each language's punctuation
    'en': {'notebooks': 'Notebooks: ', 'book': 'In the book: ', 'other': 'Other topic: ',
           'section': 'this section of Dive into Deep Learning'},
    'zh': {'notebooks': '笔记本：', 'book': '书中：', 'other': '另一主题：',
           'section': '《动手学深度学习》的这一节'},
    'fr': {'notebooks': 'Notebooks\u202f: ', 'book': 'Dans le livre\u202f: ',
           'other': 'Autre sujet\u202f: ', 'section': 'cette section de Dive into Deep Learning'},
}
IMAGE_TYPES = {'image/png': 'png', 'image/jpeg': 'jpg', 'image/svg+xml': 'svg'}
ANSI = re.compile(r'\x1b\[[0-9;]*m')


class TwinError(ValueError):
    """The two notebooks of a topic cannot be paired."""


def editions(notebooks):
    """The editions whose notebooks exist, English first: {code: folder}."""
    found = {}
    for code, (folder, *_) in EDITIONS.items():
        if all((notebooks / folder / fw / f'{t}.ipynb').exists()
               for fw in FRAMEWORKS for t in TOPICS):
            found[code] = notebooks / folder
        elif (notebooks / folder).is_dir() and code != 'en':
            missing = [f'{fw}/{t}.ipynb' for fw in FRAMEWORKS for t in TOPICS
                       if not (notebooks / folder / fw / f'{t}.ipynb').exists()]
            raise TwinError(f'edition {code} in {notebooks / folder} lacks {", ".join(missing)}')
    if 'en' not in found:
        raise TwinError(f'no English notebooks in {notebooks}/{{pytorch,mxnet}}/')
    return found


def source(cell):
    text = cell['source']
    return text if isinstance(text, str) else ''.join(text)


def fence(text, char='`'):
    """A fence longer than any run of `char` at the start of a line of text (MyST nests by length)."""
    runs = [len(m) for m in re.findall(rf'^\s*({re.escape(char)}+)', text, re.MULTILINE)]
    return char * max([3] + [n + 1 for n in runs])


def outputs_md(outputs, stem, images):
    """MyST for a code cell's stored outputs; figures are written to images/<stem>-<n>.<ext>."""
    parts = []
    for n, out in enumerate(outputs):
        kind = out['output_type']
        if kind == 'stream':
            text, classes = out['text'], f'output {out["name"]}'
        elif kind == 'error':
            text, classes = '\n'.join(out['traceback']), 'output error'
        else:
            data = out.get('data', {})
            image = next((m for m in IMAGE_TYPES if m in data), None)
            if image:
                name = f'{stem}-{n}.{IMAGE_TYPES[image]}'
                raw = data[image]
                raw = ''.join(raw) if isinstance(raw, list) else raw
                blob = raw.encode() if image == 'image/svg+xml' else base64.b64decode(raw)
                (images / name).write_bytes(blob)
                parts.append(f'![figure]({images.name}/{name})\n')
                continue
            if 'text/plain' not in data:
                continue
            text, classes = data['text/plain'], 'output'
        text = ANSI.sub('', ''.join(text) if isinstance(text, list) else text).rstrip('\n')
        if text:
            f = fence(text)
            parts.append(f'{f}{{code-block}} text\n:class: {classes}\n\n{text}\n{f}\n')
    return parts


def tab_set(tabs):
    """A sphinx-design tab set synchronised across the site: tabs is [(framework, MyST)]."""
    body = '\n'.join(text for _, text in tabs)
    inner = fence(body, ':')
    outer = inner + ':'
    items = [f'{inner}{{tab-item}} {FRAMEWORKS[fw]}\n:sync: {fw}\n\n{text.rstrip()}\n{inner}\n'
             for fw, text in tabs]
    return f'{outer}{{tab-set}}\n:sync-group: framework\n\n' + '\n'.join(items) + f'{outer}\n'


def read_twins(folder, topic):
    """The cells of a topic's two notebooks in pairs: [(PyTorch cell, MXNet cell)]."""
    nbs = {fw: json.loads((folder / fw / f'{topic}.ipynb').read_text(encoding='utf-8'))
           for fw in FRAMEWORKS}
    cells = [nb['cells'] for nb in nbs.values()]
    kinds = [[c['cell_type'] for c in cs] for cs in cells]
    if kinds[0] != kinds[1]:
        first = next((i for i, (a, b) in enumerate(zip(*kinds)) if a != b), min(map(len, kinds)))
        raise TwinError(f'{folder}/{{pytorch,mxnet}}/{topic}.ipynb: the twins must have the same '
                        f'cells in the same order ({len(cells[0])} and {len(cells[1])} cells, '
                        f'the first that differs is cell {first}); tests/test_notebooks.py says more')
    # An edition's note on how its notebook file is made (edit the catalogue, not the file) is
    # for whoever edits the notebooks; the home page tells readers what is translated.
    return [pair for pair in zip(*cells)
            if 'edition-note' not in pair[0].get('metadata', {}).get('tags', [])]


def page_md(topic, pairs, images, links):
    """The MyST page of one topic: the first heading, the links, then the cells paired."""
    blocks = []
    for i, (torch_cell, mxnet_cell) in enumerate(pairs):
        if torch_cell['cell_type'] == 'code':
            tabs = []
            for fw, cell in zip(FRAMEWORKS, (torch_cell, mxnet_cell)):
                code = source(cell).rstrip()
                f = fence(code)
                parts = [f'{f}python\n{code}\n{f}\n']
                parts += outputs_md(cell.get('outputs', []), f'{topic}-{fw}-{i}', images)
                tabs.append((fw, '\n'.join(parts)))
            blocks.append(tab_set(tabs))
        elif torch_cell['cell_type'] == 'markdown':
            text, other = source(torch_cell).strip(), source(mxnet_cell).strip()
            if not blocks and text.startswith('# '):  # the title, then the links
                title, _, text = text.partition('\n')
                blocks += [title + '\n', links]
                other = other.partition('\n')[2]
                text, other = text.strip(), other.strip()
            if text == other:
                blocks.append(text + '\n')
            else:
                blocks.append(tab_set([('pytorch', text), ('mxnet', other)]))
    return '\n'.join(blocks)


def title_and_intro(pairs):
    """The notebook's title (its first heading) and first paragraph, for the home page."""
    first = source(pairs[0][0]).strip()
    title, _, rest = first.partition('\n')
    return title.lstrip('# ').strip(), rest.strip().split('\n\n')[0]


def edition_switch(code, page, built):
    """Raw HTML links to the same page in every edition built (English at the root, the others
    in <code>/)."""
    links = []
    for other in built:
        name = EDITIONS[other][1]
        up = '' if code == 'en' else '../'
        href = f'{up}{page}.html' if other == 'en' else f'{up}{other}/{page}.html'
        link = (f'<strong>{name}</strong>' if other == code
                else f'<a href="{href}" hreflang="{EDITIONS[other][2].replace("_", "-")}">{name}</a>')
        links.append(link)
    return '<nav class="editions">' + ' · '.join(links) + '</nav>\n'


def write_edition(code, folder, src, built):
    """Write the MyST sources of one edition into src."""
    labels = LABELS[code]
    book = EDITIONS[code][3]
    images = src / 'figures'
    images.mkdir(parents=True)
    pairs = {topic: read_twins(folder, topic) for topic in TOPICS}
    titles = {topic: title_and_intro(pairs[topic]) for topic in TOPICS}
    for topic, section in TOPICS.items():
        for fw in FRAMEWORKS:
            (src / 'notebooks' / fw).mkdir(parents=True, exist_ok=True)
            shutil.copy(folder / fw / f'{topic}.ipynb', src / 'notebooks' / fw)
        other = next(t for t in TOPICS if t != topic)
        downloads = ' · '.join(f'{{download}}`{name} <notebooks/{fw}/{topic}.ipynb>`'
                               for fw, name in FRAMEWORKS.items())
        links = (edition_switch(code, topic, built) + '\n'
                 + f'{labels["notebooks"]}{downloads} | '
                 + f'{labels["book"]}[{labels["section"]}]({book}{section}) | '
                 + f'{labels["other"]}[{titles[other][0]}]({other}.md)\n')
        (src / f'{topic}.md').write_text(page_md(topic, pairs[topic], images, links),
                                         encoding='utf-8')
    home = REPO / 'site' / 'home' / f'{code}.md'
    if not home.exists():
        home = REPO / 'site' / 'home' / 'en.md'
    text = home.read_text(encoding='utf-8')
    title, _, rest = text.partition('\n')
    topics = '\n'.join(f'{n}. [{titles[t][0]}]({t}.md): {titles[t][1]}'
                       for n, t in enumerate(TOPICS, 1))
    toctree = '```{toctree}\n:hidden:\n\n' + '\n'.join(TOPICS) + '\n```\n'
    (src / 'index.md').write_text(
        f'{title}\n\n{edition_switch(code, "index", built)}\n{rest.strip()}\n\n{topics}\n\n{toctree}',
        encoding='utf-8')


def build(out, notebooks=REPO / 'notebooks', work=None):
    """Write every edition's sources and let Sphinx build them into out."""
    try:
        import furo  # noqa: F401
        import myst_parser  # noqa: F401
        import sphinx_design  # noqa: F401
    except ImportError as err:
        sys.exit(f'{err}: the site needs the site extra (pip install -e ".[site]"); make site '
                 "installs it into make's environment")
    out, work = Path(out), Path(work or Path(out).parent / 'site-src')
    found = editions(Path(notebooks))
    for folder, mark in [(out, '.buildinfo'), (work, 'en')]:  # what an earlier build left
        if folder.exists() and any(folder.iterdir()) and not (folder / mark).exists():
            raise TwinError(f'{folder} is not empty and holds no earlier build of the site: '
                            'give another folder, the site replaces what is there')
        shutil.rmtree(folder, ignore_errors=True)
    runs = {}
    for code, folder in found.items():  # one Sphinx per edition (its own language), side by side
        src = work / code
        write_edition(code, folder, src, list(found))
        dest = out if code == 'en' else out / code
        runs[code] = subprocess.Popen([
            sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-W', '--keep-going',
            '-c', str(REPO / 'site'), '-d', str(work / f'{code}.doctrees'),
            '-D', f'language={EDITIONS[code][2]}', str(src), str(dest)])
    failed = [code for code, run in runs.items() if run.wait()]
    if failed:
        sys.exit(f'Sphinx failed on the edition {", ".join(failed)} (its messages are above)')
    return list(found)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tools.site', description=__doc__.splitlines()[0])
    parser.add_argument('out', nargs='?', default=str(REPO / 'build' / 'site'))
    parser.add_argument('--notebooks', default=str(REPO / 'notebooks'))
    args = parser.parse_args(argv)
    try:
        built = build(args.out, args.notebooks)
    except TwinError as err:
        sys.exit(str(err))
    print(f'site written to {args.out}/index.html: editions {", ".join(built)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
