"""Sphinx settings of the site. `python -m tools.site` (make site) writes each edition's pages and
runs Sphinx on them with these settings and the edition's language (-D language=...)."""
from pathlib import Path

project = 'd2lmini'
author = 'the d2lmini authors'
extensions = ['myst_parser', 'sphinx_design']
myst_enable_extensions = ['colon_fence']  # ::: fences for the tab sets
exclude_patterns = ['notebooks']  # copies offered for download, not pages
html_theme = 'furo'
html_title = 'd2lmini'
html_static_path = [str(Path(__file__).parent / 'static')]
html_css_files = ['site.css']
html_copy_source = False  # no _sources/ copies of the generated Markdown
html_show_sourcelink = False
# Search results without a summary: Sphinx fetches each page for it, which file:// refuses.
html_show_search_summary = False
# Chinese search: jieba's own dictionary, which Sphinx would otherwise load a second time.
html_search_options = {'dict': ''}

try:  # jieba, which splits Chinese words for the search index, logs its progress on every build
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
except ImportError:
    pass
