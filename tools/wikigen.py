"""Write the bundled wikitext-2-mini.zip: `python -m tools.wikigen d2lmini/data`.

The paragraphs that bert.mini is pretrained on (tools.snli_scenes.pretraining_corpus, as
tools.pretrain uses them) in WikiText-2's own file layout, so that the pretraining notebooks
read them with the same `_read_wiki` as the real WikiText-2: `wikitext-2-mini/wiki.train.tokens`
(one paragraph per line, sentences ending in ' .') and `wiki.valid.tokens` (held-out
paragraphs, the ones tools.pretrain evaluates on).

Foils, the false next sentences, go in a file of their own beside each text file
(`wiki.train.foils`: the same lines, one tab-separated field per pair of consecutive
sentences, empty where a pair has none), so the text files keep WikiText's layout exactly and
the real WikiText-2, which has no such file, falls back to the book's random sentences.
"""
import os
import sys
import zipfile

from d2lmini import hub

from . import snli_scenes

NAME = 'wikitext-2-mini'
NUM_PARAGRAPHS, EVAL_PARAGRAPHS = 20000, 500  # as tools.pretrain.build_torch_checkpoint


def wiki_files(corpus):
    """WikiText's text of `(paragraphs, foils)` and the foils file beside it, as two strings."""
    paragraphs, foils = corpus
    text = ''.join(f' {" ".join(p)} \n' for p in paragraphs)
    foil_text = ''.join('\t'.join(f or '' for f in p_foils) + '\n' for p_foils in foils)
    return text, foil_text


def write_wikitext_zip(out_dir, seed=0, num_paragraphs=NUM_PARAGRAPHS,
                       eval_paragraphs=EVAL_PARAGRAPHS):
    """Write `out_dir/wikitext-2-mini.zip` byte for byte reproducibly; return its path."""
    os.makedirs(out_dir, exist_ok=True)
    files = {}
    for split, corpus in [('train', snli_scenes.pretraining_corpus(seed, num_paragraphs)),
                          ('valid', snli_scenes.pretraining_corpus(seed + 1, eval_paragraphs))]:
        text, foil_text = wiki_files(corpus)
        files[f'{NAME}/wiki.{split}.tokens'] = text.encode('utf-8')
        files[f'{NAME}/wiki.{split}.foils'] = foil_text.encode('utf-8')
    # bzip2: half the size of deflate for this text, and Python's zipfile reads it
    return hub.write_zip(os.path.join(out_dir, f'{NAME}.zip'), files, compresslevel=9,
                         compression=zipfile.ZIP_BZIP2)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit('usage: python -m tools.wikigen OUT_DIR   (writes OUT_DIR/wikitext-2-mini.zip)')
    path = write_wikitext_zip(argv[0])
    print(f'wrote {path}: {os.path.getsize(path)} bytes, sha1 {hub.sha1_of(path)}')


if __name__ == '__main__':
    main()
