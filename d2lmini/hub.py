"""Data hub: fetch named files (web or bundled), verify their sha1, and unpack archives safely;
write reproducible zips of the bundled files; check that a checkpoint's parameters fit a model.

Downloads go through pooch, which writes to a temporary file and moves it into place only after
the sha1 matched, so a failed or interrupted download never leaves a file that looks cached.
Environment: D2LMINI_DATA_DIR (data folder), D2LMINI_MIRROR (base URL replacing the web hosts),
D2LMINI_TIMEOUT (seconds to wait for a server, default 30).
"""
import json
import logging
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pooch
from tqdm.std import tqdm

DATA_URL = 'http://d2l-data.s3-accelerate.amazonaws.com/'
DATA_HUB = {}


class DownloadError(OSError):
    """A file could not be fetched or failed its sha1 check; the message says what to do."""


class _UnknownName(KeyError):
    __str__ = Exception.__str__  # KeyError would print the message in quotes


def bundled_url(filename):
    """The file:// URL of a file shipped in d2lmini/data/."""
    return (Path(__file__).resolve().parent / 'data' / filename).as_uri()


DATA_HUB['SNLI'] = ('https://nlp.stanford.edu/projects/snli/snli_1.0.zip',
                    '9fcde07509c7e87ec61c640c1b2753d9041758e4')
DATA_HUB['snli-mini'] = (bundled_url('snli-mini.zip'),
                         '58fa141c68374aaf7340a58b5c78b97eab8ada12')
# The book's host of WikiText-2 (an S3 bucket) is gone; this mirror serves the same zip, which
# the sha1 (the book's) vouches for. It unpacks to wikitext-2/.
DATA_HUB['wikitext-2'] = ('https://wikitext.smerity.com/wikitext-2-v1.zip',
                          '3c914d17d80b1459be871a5039ac23e752a53cbe')
# The paragraphs bert.mini was pretrained on, in WikiText's layout (tools/wikigen.py)
DATA_HUB['wikitext-2-mini'] = (bundled_url('wikitext-2-mini.zip'),
                               '110e1902c00665648826d2f43bdec48d99e5998e')


def data_dir():
    """The data folder: $D2LMINI_DATA_DIR, else the per-user cache. Created if missing."""
    path = Path(os.environ.get('D2LMINI_DATA_DIR') or pooch.os_cache('d2lmini'))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _lookup(name, hub):
    hub = DATA_HUB if hub is None else hub
    if name not in hub:
        raise _UnknownName(f'unknown data hub name {name!r}; known names: {", ".join(sorted(hub))}')
    return hub[name]


def _copy_file(url, output_file, _pooch):
    """pooch downloader for file:// URLs (the bundled files)."""
    shutil.copyfile(url2pathname(urlparse(url).path), output_file)


class _Bar(tqdm):
    # pooch tests `if progressbar:`, and a tqdm without a total yet refuses bool().
    def __bool__(self):
        return True


def _http_download(url, output_file, pooch_):
    # Always a text bar from tqdm.std (tqdm.auto would draw a widget in Jupyter): only web files,
    # which are big, come here, and mininterval keeps a notebook's stderr to a few updates.
    # (tqdm's `delay` would not hide it: pooch's final reset() redraws regardless.)
    # Made here, not up front, so a cache hit creates none.
    try:
        timeout = float(os.environ.get('D2LMINI_TIMEOUT', '30'))
    except ValueError:
        raise ValueError('D2LMINI_TIMEOUT must be a number of seconds') from None
    with _Bar(desc=url.rsplit('/', 1)[-1], unit='B', unit_scale=True, mininterval=1) as bar:
        # Chunks of 64 KiB: pooch's default of 1 KiB costs noticeable CPU on a 100 MB file.
        downloader = pooch.HTTPDownloader(progressbar=bar, chunk_size=1 << 16, timeout=timeout)
        downloader(url, output_file, pooch_)


def _is_offline(err):
    # requests puts urllib3's reason in err.args[0].reason; ConnectTimeoutError covers refused
    # connections, DNS failures and connect timeouts: the server was never reached.
    import urllib3.exceptions
    reason = getattr(err.args[0] if err.args else None, 'reason', None)
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)


def _error(err, url, path, sha1):
    if url.startswith('file:'):
        head = f'bundled file {url2pathname(urlparse(url).path)} is missing or damaged ({err})'
        fix = 'Reinstall d2lmini (or rebuild its data: make data / make checkpoints),'
    else:
        head = (f'cannot reach the server, and {path.name} is not in the data folder ({err})'
                if _is_offline(err) else f'download failed: {err}')
        fix = f'Check the network, or set D2LMINI_MIRROR to a base URL that serves {path.name},'
    return DownloadError(
        f'{head}\n  url:  {url}\n  file: {path} (nothing was saved)\n  sha1: {sha1}\n'
        f'{fix} or get the file by hand, put it at {path} and check that '
        f'`sha1sum {path}` prints {sha1}.')


def download(name_or_url, folder=None, sha1_hash=None, hub=None):
    """Fetch a hub entry (or a URL with `sha1_hash`) into `folder`; return the local path."""
    if '://' in name_or_url:
        if sha1_hash is None:
            raise ValueError(f'pass sha1_hash= for {name_or_url} so the download can be verified')
        url, sha1 = name_or_url, sha1_hash
    else:
        url, sha1 = _lookup(name_or_url, hub)
    scheme = urlparse(url).scheme
    if scheme not in ('http', 'https', 'file'):
        raise ValueError(f'cannot download {url}: only http(s) and file URLs are supported')
    sha1, fname = sha1.lower(), url.rsplit('/', 1)[-1]
    path = Path(folder if folder is not None else data_dir()) / fname
    if path.exists():
        if sha1_of(path) == sha1:
            return str(path)  # cache hit: no network at all
        # Wrong content is never useful; dropping it means a failed refetch leaves nothing behind.
        path.unlink()
    is_web, mirror = scheme != 'file', os.environ.get('D2LMINI_MIRROR')
    if mirror and is_web:
        url = mirror.rstrip('/') + '/' + fname
    if is_web:
        print(f'Downloading {fname} from {url}', file=sys.stderr)
    # pooch logs the local path it writes to; in a notebook that would store this machine's
    # paths in the outputs, so it is quiet while we fetch and we say the essentials above.
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        return pooch.retrieve(url, known_hash=f'sha1:{sha1}', fname=fname, path=path.parent,
                              downloader=_http_download if is_web else _copy_file)
    except (OSError, ValueError) as err:  # requests errors are OSErrors; bad sha1 ValueError
        raise _error(err, url, path, sha1) from err
    finally:
        logger.setLevel(level)


def _archive_stem(name):
    for suffix in ('.tar.gz', '.tgz', '.tar', '.zip'):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    raise ValueError(f'cannot extract {name}: only .zip, .tar, .tar.gz and .tgz are supported')


def _check_member(archive, name, is_link, reserved):
    parts = re.split(r'[\\/]', name)
    if name.startswith(('/', '\\')) or re.match(r'[A-Za-z]:', name) or '..' in parts:
        raise ValueError(f'refusing to extract {archive}: member {name!r} escapes its folder')
    if is_link:
        raise ValueError(f'refusing to extract {archive}: member {name!r} is a link or device')
    if parts[0] in reserved:
        raise ValueError(f'refusing to extract {archive}: member {name!r} would replace {parts[0]}')


def _extract(archive, dest, reserved):
    # Check every member before writing any, so a bad archive writes nothing.
    if archive.suffix == '.zip':
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                is_link = stat.S_ISLNK(info.external_attr >> 16)
                _check_member(archive, info.filename, is_link, reserved)
            for info in infos:
                zf.extract(info, dest)
    else:
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(archive, m.name, not (m.isfile() or m.isdir()), reserved)
            # Python >= 3.11.4 also offers its own 'data' filter (safe permissions); use it there.
            extra = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
            for m in members:
                tf.extract(m, dest, **extra)


def download_extract(name, folder=None, hub=None):
    """Fetch the archive `name` and unpack it beside itself; return <dir>/<folder or stem>."""
    url, sha1 = _lookup(name, hub)
    stem = _archive_stem(url.rsplit('/', 1)[-1])  # fail before downloading a non-archive
    archive = Path(download(name, hub=hub))
    base, sha1 = archive.parent, sha1.lower()
    target = base / (folder or stem)
    # Written only after a complete extraction, holding the archive's sha1: a new archive
    # (new sha1) or an interrupted run gets extracted again, a finished one never.
    marker = base / (archive.name + '.extracted')
    if target.exists() and marker.exists() and marker.read_text().strip() == sha1:
        return str(target)
    marker.unlink(missing_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{archive.name}.', dir=base))
    try:
        _extract(archive, tmp, reserved={archive.name, marker.name})
        for entry in tmp.iterdir():
            old = base / entry.name
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            elif old.exists() or old.is_symlink():
                old.unlink()
            os.replace(entry, old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    marker.write_text(sha1 + '\n')
    return str(target)


def sha1_of(path):
    """The sha1 of a file's content, as DATA_HUB lists it."""
    return pooch.file_hash(str(path), alg='sha1')


def write_zip(path, files, compresslevel=None, compression=zipfile.ZIP_DEFLATED):
    """Write `files` ({name in the zip: bytes}, in that order) as the zip `path` and return
    `path`. Fixed timestamps and permissions make the same content give the same bytes; the
    zip is written under a temporary name and renamed, so a half-written one never shows.
    `compression` ZIP_BZIP2 makes text about half as big as deflate does (Python reads both)."""
    with zipfile.ZipFile(f'{path}.tmp', 'w') as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            info.create_system = 3  # Unix on every system, for the permission bits below
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            zf.writestr(info, data, compresslevel=compresslevel)
    os.replace(f'{path}.tmp', path)
    return path


# ---------------------------------------------------------------------------------------------
# Checkpoints, for both frameworks

# The hyperparameters each checkpoint was pretrained with; the model must be built with them.
BERT_CONFIGS = {
    'bert.mini': {'num_hiddens': 128, 'ffn_num_hiddens': 256, 'num_heads': 4, 'num_blks': 2,
                  'dropout': 0.1, 'max_len': 128},
    'bert.small': {'num_hiddens': 256, 'ffn_num_hiddens': 512, 'num_heads': 4, 'num_blks': 2,
                   'dropout': 0.1, 'max_len': 512},
    'bert.base': {'num_hiddens': 768, 'ffn_num_hiddens': 3072, 'num_heads': 12, 'num_blks': 12,
                  'dropout': 0.1, 'max_len': 512},
}


def write_checkpoint_zip(path, folder, vocab_json, params):
    """Write a checkpoint in the book's layout, `<folder>/vocab.json` and
    `<folder>/pretrained.params` (both given as bytes), as a reproducible zip; return its path."""
    return write_zip(path, {f'{folder}/vocab.json': vocab_json,
                            f'{folder}/pretrained.params': params})


def register_checkpoint(name, path, config, hub):
    """Register the checkpoint zip `path` as `name`: its file URL and sha1 in `hub` (a
    DATA_HUB), its hyperparameters in BERT_CONFIGS. Both are also written beside the zip
    (`<path>.json`), so that register_saved_checkpoint can do the same in another session."""
    path = Path(path).resolve()
    sha1 = sha1_of(path)
    hub[name] = (path.as_uri(), sha1)
    BERT_CONFIGS[name] = dict(config)
    record = {'name': name, 'sha1': sha1, 'config': dict(config)}
    Path(f'{path}.json').write_text(json.dumps(record, indent=1) + '\n', encoding='utf-8')


def register_saved_checkpoint(name, filename, hub):
    """Register `name` from the record that register_checkpoint wrote beside `filename` in
    the data folder (a checkpoint saved in an earlier session)."""
    path = data_dir() / filename
    try:
        record = json.loads(Path(f'{path}.json').read_text(encoding='utf-8'))
    except FileNotFoundError:
        raise _UnknownName(
            f'{name!r} is neither a DATA_HUB name nor a checkpoint saved in the data folder '
            f'({path} and its .json record are missing): save one with save_pretrained_model '
            f'(notebook bert-pretraining), with the same D2LMINI_DATA_DIR') from None
    hub[name] = (path.as_uri(), record['sha1'])
    BERT_CONFIGS[name] = record['config']


def _shapes(names, params):
    return ''.join(f'\n    {name} {tuple(params[name].shape)}' for name in names)


def check_params(path, params, expected):
    """Raise one ValueError naming every parameter of the checkpoint file `path` that does not
    fit the model: missing, unexpected or wrongly shaped. `params` (the file's) and `expected`
    (the model's) map parameter names to anything with a `shape`."""
    key = 'encoder.token_embedding.weight'
    if key in params and params[key].shape[0] != expected[key].shape[0]:
        raise ValueError(
            f'{path} embeds {params[key].shape[0]} tokens but the model was built for a '
            f'vocabulary of {expected[key].shape[0]}: build it with vocab_size=len(vocab) for '
            f'the vocab.json beside pretrained.params; if that is what you did, the two files '
            f'come from different checkpoints (delete the folder and download it again)')
    problems = []
    missing = [k for k in expected if k not in params]
    unexpected = [k for k in params if k not in expected]
    wrong = [k for k in expected
             if k in params and tuple(params[k].shape) != tuple(expected[k].shape)]
    if missing:
        problems.append('missing from the checkpoint (name, shape the model needs):'
                        + _shapes(missing, expected))
    if unexpected:
        problems.append('in the checkpoint but not in the model (name, shape):'
                        + _shapes(unexpected, params))
    if wrong:
        problems.append('wrong shape (name, checkpoint shape -> model shape):' + ''.join(
            f'\n    {k} {tuple(params[k].shape)} -> {tuple(expected[k].shape)}' for k in wrong))
    if problems:
        raise ValueError(
            f'{path} does not fit the model:\n  ' + '\n  '.join(problems) + '\nBuild the model '
            'with the hyperparameters the checkpoint was pretrained with (d2l.BERT_CONFIGS '
            'lists them for the hub checkpoints): num_blks sets the number of blocks, '
            'num_hiddens, ffn_num_hiddens and max_len the shapes.')
