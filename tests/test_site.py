"""The site (make site) read in a real browser: Debian's Chromium, headless, driven by Playwright.

The module builds the site from the notebooks into a temporary folder (or tests the one that
D2LMINI_SITE names, for instance build/site after make site), serves it from 127.0.0.1 and opens
it from file:// too. Any request to another host is refused and counts as a failure: the site
must work offline. Screenshots of each kind of page go to build/site-*.png.

Outside CI the tests skip, saying why, where Chromium is missing; in CI (CI=true) they fail.
"""
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

sync_api = pytest.importorskip('playwright.sync_api', reason='the site extra is not installed '
                               "(pip install -e '.[site]'; make test on Python 3.11 has it)")
pytest.importorskip('sphinx', reason='the site extra is not installed')

from tools import site as sitegen

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / 'build'
CHROMIUM = os.environ.get('D2LMINI_CHROMIUM') or shutil.which('chromium') or '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run']
NLI = 'natural-language-inference-bert'
CJK = re.compile(r'[\u4e00-\u9fff]')


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    """(folder of the built site, its editions)."""
    if not Path(CHROMIUM).exists():
        reason = ('Chromium is not installed: apt-get install chromium fonts-noto-cjk '
                  '(or set D2LMINI_CHROMIUM to a Chromium binary)')
        if os.environ.get('CI'):
            pytest.fail(f'{reason}; .ci/run installs it')
        pytest.skip(reason)
    if os.environ.get('D2LMINI_SITE'):
        out = Path(os.environ['D2LMINI_SITE']).resolve()
        assert (out / 'index.html').exists(), f'D2LMINI_SITE={out} holds no built site'
    else:
        out = tmp_path_factory.mktemp('site') / 'site'
        sitegen.build(out)
    return out, ['en'] + [code for code in sitegen.EDITIONS if (out / code).is_dir()]


@pytest.fixture(scope='module')
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site[0]))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_port}/'
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def browser(site):
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def new_context(browser, **options):
    """A fresh profile (empty storage) that refuses requests to any other host and keeps a list
    of what went wrong (context.problems)."""
    ctx = browser.new_context(viewport={'width': 1280, 'height': 900}, **options)
    ctx.problems = []

    def local_only(route):
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(('file:', 'data:', 'blob:')) or host == '127.0.0.1':
            route.continue_()
        else:
            ctx.problems.append(f'request to another host: {route.request.url}')
            route.abort()

    ctx.route('**/*', local_only)
    return ctx


@pytest.fixture
def context(browser):
    ctx = new_context(browser)
    yield ctx
    ctx.close()


def open_page(context, url):
    """Open url in a new tab that records console errors, script errors and failed requests."""
    page = context.new_page()
    problems = context.problems
    page.on('console', lambda m: m.type == 'error' and problems.append(f'console: {m.text}'))
    page.on('pageerror', lambda e: problems.append(f'script error: {e}'))
    page.on('requestfailed', lambda r: problems.append(f'failed: {r.url} ({r.failure})'))
    page.on('response', lambda r: r.status >= 400 and problems.append(f'{r.status}: {r.url}'))
    page.goto(url)
    page.wait_for_load_state('load')
    return page


def pages(site):
    return sorted(p.relative_to(site[0]).as_posix() for p in site[0].rglob('*.html'))


def base(site, server, how):
    return server if how == 'http' else site[0].as_uri() + '/'


# What a page shows: what it loads from elsewhere, its links, its edition switch, its figures.
FACTS = '''async () => ({
    remote: [...document.querySelectorAll(
        'script[src], link[href][rel=stylesheet], link[rel=preload], img[src]')]
        .map(e => e.src || e.href)
        .filter(u => !/^(file|data):/.test(u) && !u.startsWith(location.origin)),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    editions: [...document.querySelectorAll('nav.editions a')].map(a => a.href),
    figures: await Promise.all([...document.images].map(img =>
        img.decode().catch(() => null).then(() => [img.src, img.naturalWidth]))),
})'''


@pytest.fixture(scope='module')
def visit(site, server, browser):
    """visit(how): every page opened once over HTTP ('http') or from file:// ('file'):
    ({page: its FACTS}, the problems seen)."""
    seen = {}

    def visit(how):
        if how not in seen:
            ctx = new_context(browser)
            facts = {}
            for name in pages(site):
                page = open_page(ctx, base(site, server, how) + name)
                facts[name] = page.evaluate(FACTS)
                page.close()
            seen[how] = facts, ctx.problems
            ctx.close()
        return seen[how]

    return visit


def chosen(page):
    """The label of the selected tab, and of the tab whose content shows, in every tab set."""
    return page.evaluate('''() => [...document.querySelectorAll('.sd-tab-set')].map(s => [
        s.querySelector(':scope > input:checked + label').textContent.trim(),
        [...s.querySelectorAll(':scope > .sd-tab-content')].filter(c => c.offsetParent !== null)
            .map(c => c.previousElementSibling.textContent.trim()).join()])''')


@pytest.mark.parametrize('how', ['http', 'file'])
def test_every_page_loads_without_errors_or_other_hosts(site, visit, how):
    facts, problems = visit(how)
    assert len(facts) >= 5 * len(site[1]), 'home, two topics, search and index per edition'
    assert problems == []
    assert {name: f['remote'] for name, f in facts.items() if f['remote']} == {}


def test_every_figure_is_present_and_drawn(site, visit):
    facts, _ = visit('http')
    for code in site[1]:
        folder = REPO / 'notebooks' / sitegen.EDITIONS[code][0]
        if not folder.is_dir():  # a site built from notebooks elsewhere: its figures are ours
            folder = REPO / 'notebooks'
        for topic in sitegen.TOPICS:
            name = f'{topic}.html' if code == 'en' else f'{code}/{topic}.html'
            expected = sum('image/png' in out.get('data', {})
                           for fw in sitegen.FRAMEWORKS
                           for cell in json.loads((folder / fw / f'{topic}.ipynb')
                                                  .read_text(encoding='utf-8'))['cells']
                           for out in cell.get('outputs', []))
            figures = facts[name]['figures']
            assert len(figures) == expected > 0, f'{name}: {len(figures)} figures, notebooks {expected}'
            assert [src for src, width in figures if not width] == [], f'{name}: figures not drawn'


@pytest.mark.parametrize('how', ['http', 'file'])
def test_every_internal_link_resolves(site, server, visit, how):
    root = base(site, server, how)
    facts, _ = visit(how)
    targets = {href: name for name, f in facts.items() for href in f['links']
               if href.startswith(root)}
    assert len(targets) > 10
    broken = []
    for href, where in sorted(targets.items()):
        url, fragment = urldefrag(href)
        if how == 'http':
            with urllib.request.urlopen(url) as response:
                body = response.read()
        else:
            path = Path(unquote(urlparse(url).path))
            path = path / 'index.html' if path.is_dir() else path
            body = path.read_bytes() if path.is_file() else None
        if body is None or (fragment and f'id="{fragment}"'.encode() not in body):
            broken.append(f'{href} (on {where})')
    assert broken == []


def test_the_edition_switch_keeps_the_topic(site, visit):
    if len(site[1]) == 1:
        pytest.skip('only the English edition was built (notebooks/zh/ and notebooks/fr/ hold '
                    'the others)')
    facts, _ = visit('http')
    for name, f in facts.items():
        if name.rsplit('/', 1)[-1] in ('genindex.html', 'search.html'):
            continue
        assert len(f['editions']) == len(site[1]) - 1, name
        for href in f['editions']:
            assert href.rsplit('/', 1)[1] == name.rsplit('/', 1)[-1], f'{name} links to {href}'


@pytest.mark.parametrize('how', ['http', 'file'])
def test_mxnet_chosen_once_switches_every_cell_then_the_next_page_and_a_reload(
        site, server, context, how):
    root = base(site, server, how)
    page = open_page(context, root + f'{NLI}.html')
    before = chosen(page)
    code_cells = sum(cell['cell_type'] == 'code' for cell in json.loads(
        (REPO / 'notebooks' / 'pytorch' / f'{NLI}.ipynb').read_text(encoding='utf-8'))['cells'])
    assert len(before) > code_cells, 'a tab set per code cell and per framework note'
    assert set(map(tuple, before)) == {('PyTorch', 'PyTorch')}, 'PyTorch is the default'
    figure_cell = page.locator('.sd-tab-set:has(img)').first
    figure_cell.scroll_into_view_if_needed()
    if how == 'http':
        page.screenshot(path=SHOTS / 'site-topic-pytorch.png')
    figure_cell.locator('label', has_text='MXNet').click()
    assert set(map(tuple, chosen(page))) == {('MXNet', 'MXNet')}
    first_code = page.locator('.sd-tab-content:visible .highlight-python').first.inner_text()
    assert 'from d2lmini import mxnet as d2l' in first_code
    if how == 'http':
        figure_cell.scroll_into_view_if_needed()
        page.screenshot(path=SHOTS / 'site-topic-mxnet.png')
    other = next(t for t in sitegen.TOPICS if t != NLI)
    page.locator(f'article a[href="{other}.html"]').first.click()
    page.wait_for_load_state('load')
    assert page.url == root + f'{other}.html'
    assert set(map(tuple, chosen(page))) == {('MXNet', 'MXNet')}, 'the next page opens on MXNet'
    page.reload()
    assert set(map(tuple, chosen(page))) == {('MXNet', 'MXNet')}, 'a reload keeps MXNet'
    page.locator('.sd-tab-set label', has_text='PyTorch').first.click()
    page.goto(root + f'{NLI}.html')
    assert set(map(tuple, chosen(page))) == {('PyTorch', 'PyTorch')}
    assert context.problems == []


def test_home_page_lists_the_topics_in_order(site, server, context):
    page = open_page(context, server + 'index.html')
    links = page.eval_on_selector_all('article ol a', 'els => els.map(a => a.getAttribute("href"))')
    assert links == [f'{t}.html' for t in sitegen.TOPICS]
    assert 'make run' in page.inner_text('article') and 'make test' in page.inner_text('article')
    page.screenshot(path=SHOTS / 'site-home.png')
    assert context.problems == []


def test_a_phone_scrolls_code_not_the_page(site, server, browser):
    context = new_context(browser, is_mobile=True)
    page = context.new_page()
    page.set_viewport_size({'width': 390, 'height': 844})
    page.goto(server + f'{NLI}.html')
    widths = page.evaluate('() => [document.documentElement.scrollWidth, innerWidth]')
    context.close()
    assert widths[0] <= widths[1], f'the page is {widths[0]} px wide on a {widths[1]} px screen'


def test_chinese_pages_are_drawn_with_a_chinese_font(site, server, context):
    if 'zh' not in site[1]:
        pytest.skip('no Chinese edition: notebooks/zh/ does not exist')
    page = open_page(context, server + f'{NLI}.html')
    page.locator('nav.editions a', has_text='中文').click()
    page.wait_for_load_state('load')
    assert page.url == server + f'zh/{NLI}.html'
    assert page.evaluate('document.documentElement.lang').startswith('zh')
    text = ''.join(CJK.findall(page.inner_text('article')))
    assert len(text) > 100, 'the zh page is in Chinese'
    # Which fonts draw a run of its Chinese characters? Each must be one that covers Chinese.
    page.evaluate('''t => { const s = document.createElement('span'); s.id = 'cjk-probe';
                     s.textContent = t; document.querySelector('article p').append(s); }''',
                  text[:200])
    cdp = page.context.new_cdp_session(page)
    cdp.send('DOM.enable')
    cdp.send('CSS.enable')
    root = cdp.send('DOM.getDocument')['root']['nodeId']
    node = cdp.send('DOM.querySelector', {'nodeId': root, 'selector': '#cjk-probe'})['nodeId']
    fonts = [f['familyName'] for f in cdp.send('CSS.getPlatformFontsForNode',
                                               {'nodeId': node})['fonts']]
    chinese = subprocess.run(['fc-list', ':lang=zh', 'family'], capture_output=True, text=True,
                             check=True).stdout
    assert fonts and all(f in chinese for f in fonts), f'drawn with {fonts}: no Chinese font'
    page.evaluate("document.getElementById('cjk-probe').remove()")
    page.screenshot(path=SHOTS / 'site-topic-zh.png')
    page.locator('nav.editions a', has_text='English').click()
    page.wait_for_load_state('load')
    assert page.url == server + f'{NLI}.html'
    assert context.problems == []


@pytest.mark.parametrize('how', ['http', 'file'])
@pytest.mark.parametrize('code, word', [('en', 'entailment'), ('zh', '蕴涵')])
def test_search_finds_the_topic(site, server, context, how, code, word):
    if code not in site[1]:
        pytest.skip(f'no {code} edition: notebooks/{code}/ does not exist')
    root = base(site, server, how) + ('' if code == 'en' else f'{code}/')
    page = open_page(context, root + f'search.html?q={word}')
    page.wait_for_selector('#search-results ul.search li a')
    found = page.eval_on_selector_all('#search-results ul.search li a', 'els => els.map(a => a.href)')
    assert root + f'{NLI}.html' in [urldefrag(f).url.split('?')[0] for f in found]
    assert context.problems == []
