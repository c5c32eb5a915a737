"""Data hub: fetch named files (web or bundled), verify their sha1, unpack archives safely, and
write reproducible zips. (Checkpoints, their configs and checks: checkpoints.py.)

Many processes may share one data folder (a class on one server): each gets complete files and
folders, and a reader never writes. How:
- Reading needs no write at all: a file whose sha1 matches is used as it is, and a folder is
  taken as unpacked when the marker `<archive>.extracted` beside it holds the archive's sha1.
- Only when something is missing does a process write, and then under a lock of that file
  (`filelock`, the lock huggingface_hub uses for its shared cache: flock on Unix, released by
  the kernel when a process dies), so one process fetches and unpacks while the others wait
  and then find the work done. The lock file `.<file>.lock` is removed when the work is over
  (filelock >= 4.3 notices a lock file removed under a waiting process), so none stays in a
  filled folder.
- Everything is written under a hidden temporary name `.<file>.<random>...` and renamed into
  place once complete (a rename is atomic), the marker last. A process killed at any point
  leaves only hidden debris, which the next process that takes the lock removes. A complete
  folder of the current archive is never removed or replaced: one is replaced only when its
  archive changed (a new sha1) or an earlier run stopped before writing the marker.
Environment: D2LMINI_DATA_DIR (data folder), D2LMINI_MIRROR (base URL replacing the web hosts),
D2LMINI_TIMEOUT (seconds to wait for a server, default 30).
"""
import contextlib
import errno
import glob
import os
import re
import secrets
import shutil
import stat
import sys
import tarfile
import zipfile
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import filelock
import pooch
from tqdm.std import tqdm

DATA_URL = 'http://d2l-data.s3-accelerate.amazonaws.com/'
DATA_HUB = {}


class DownloadError(OSError):
    """A file could not be fetched or failed its sha1 check; the message says what to do."""


class DataFolderError(OSError):
    """A write that a data or checkpoint folder needs is impossible; the message names the
    folder and the file, says why, and what to do."""


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


def user_cache():
    """The per-user cache of d2lmini (its data folder when D2LMINI_DATA_DIR is not set)."""
    return Path(pooch.os_cache('d2lmini'))


def data_dir():
    """The data folder: $D2LMINI_DATA_DIR, else the per-user cache. Created if missing."""
    path = Path(os.environ.get('D2LMINI_DATA_DIR') or user_cache())
    if not path.is_dir():
        with writing(path, path):
            path.mkdir(parents=True, exist_ok=True)
    return path


def _is_unwritable(err):
    return isinstance(err, PermissionError) or getattr(err, 'errno', None) in (
        errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def writing(folder, file):
    """Turn a refused write of `file` in `folder` into a DataFolderError that says what to do."""
    try:
        yield
    except OSError as err:
        if not _is_unwritable(err) or isinstance(err, DataFolderError):
            raise
        shared = os.environ.get('D2LMINI_DATA_DIR')
        if shared and Path(folder).resolve() == Path(shared).resolve():
            fix = (f'D2LMINI_DATA_DIR names a folder you may only read (a class\'s shared '
                   f'folder?), and it lacks {Path(file).name} or holds another version of it. '
                   f'Ask whoever fills it to run `python -m d2lmini.classroom {folder} --mode '
                   f'reduced` (or --mode full), or unset D2LMINI_DATA_DIR to use your own '
                   f'cache ({user_cache()}).')
        else:
            fix = (f'Make {folder} writable for you, or point XDG_CACHE_HOME (the per-user '
                   f'cache) or D2LMINI_DATA_DIR at a folder you may write to.')
        raise DataFolderError(
            err.errno, f'cannot write {file} in the folder {folder}: {err.strerror or err}. '
            f'{fix}') from None


def _lookup(name, hub):
    hub = DATA_HUB if hub is None else hub
    if name not in hub:
        raise _UnknownName(f'unknown data hub name {name!r}; known names: {", ".join(sorted(hub))}')
    return hub[name]


# ---------------------------------------------------------------------------------------------
# Writing safely in a folder that others read

def _temp_path(folder, fname, kind):
    """A fresh hidden name for work on `fname`: `.<fname>.<random>.<kind>`. The lock's holder
    removes such names left by a killed process (_remove_debris)."""
    return Path(folder) / f'.{fname}.{secrets.token_hex(6)}.{kind}'


def _remove_debris(folder, fname):
    for path in Path(folder).glob(glob.escape(f'.{fname}.') + '*'):
        if path.suffix == '.lock':
            continue  # this file's lock (held by us) or another file's
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(folder, fname):
    """Hold the lock of `fname` in `folder` while writing it; a write refused by the folder
    raises a DataFolderError. The lock file is removed when the work is over."""
    folder = Path(folder)
    path = folder / f'.{fname}.lock'
    with writing(folder, fname):
        # Whoever else may write in the folder (a group) must be able to open the lock file.
        lock = filelock.FileLock(path, mode=0o644 | (folder.stat().st_mode & 0o022))
        try:
            lock.acquire(timeout=1)
        except filelock.Timeout:
            print(f'waiting for another process that is writing {fname}', file=sys.stderr)
            lock.acquire()
        try:
            _remove_debris(folder, fname)
            yield
        finally:
            # Removed before it is released, so no lock file stays in the folder: a process
            # that opened it meanwhile finds it gone and locks a new one (filelock >= 4.3
            # checks), and then sees the work done or does it again.
            with contextlib.suppress(OSError):
                path.unlink()
            lock.release()


def _readable_like(path, folder):
    """Give `path` the read (and, for folders, search) bits that `folder` grants its group and
    others: a umask of 077 must not hide a shared folder's files from those who read it."""
    bits = Path(folder).stat().st_mode & 0o055
    mode = path.lstat().st_mode
    if stat.S_ISDIR(mode):
        path.chmod(stat.S_IMODE(mode) | bits)
    elif stat.S_ISREG(mode):
        path.chmod(stat.S_IMODE(mode) | (bits & 0o044))


def write_atomic(path, data, lock_name=None):
    """Write the bytes `data` as `path`: under a hidden temporary name, then renamed, so that
    `path` is whole or absent. `lock_name`: the file whose lock the caller holds (the temporary
    name is in its namespace, for _remove_debris); default `path`'s own name."""
    path = Path(path)
    tmp = _temp_path(path.parent, lock_name or path.name, 'tmp')
    try:
        with open(tmp, 'xb') as f:
            f.write(data)
        _readable_like(tmp, path.parent)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# ---------------------------------------------------------------------------------------------
# Fetching

def _copy_file(url, output_file):
    shutil.copyfile(url2pathname(urlparse(url).path), output_file)


class _Bar(tqdm):
    # pooch tests `if progressbar:`, and a tqdm without a total yet refuses bool().
    def __bool__(self):
        return True


def _http_download(url, output_file):
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
        downloader(url, str(output_file), None)


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


def _fetch(url, sha1, path):
    """Fetch `url` as `path`, complete and checked, or raise DownloadError (the lock is held)."""
    is_web, mirror = not url.startswith('file:'), os.environ.get('D2LMINI_MIRROR')
    if mirror and is_web:
        url = mirror.rstrip('/') + '/' + path.name
    if is_web:
        print(f'Downloading {path.name} from {url}', file=sys.stderr)
    tmp = _temp_path(path.parent, path.name, 'part')
    try:
        (_http_download if is_web else _copy_file)(url, tmp)
        found = sha1_of(tmp)
        if found != sha1:
            raise ValueError(f'the sha1 of what was fetched, {found}, does not match')
        _readable_like(tmp, path.parent)
        os.replace(tmp, path)
    except (OSError, ValueError) as err:  # requests errors are OSErrors
        raise _error(err, url, path, sha1) from err
    finally:
        tmp.unlink(missing_ok=True)


def _matches(path, sha1):
    return path.is_file() and sha1_of(path) == sha1


def _own_checkpoint(url):
    """The learner's saved checkpoint that a file URL names, if it does: read in place."""
    from .checkpoints import checkpoint_dir  # checkpoints imports this module
    if not url.startswith('file:'):
        return None
    source = Path(url2pathname(urlparse(url).path))
    return source if source.parent == checkpoint_dir() else None


def download(name_or_url, folder=None, sha1_hash=None, hub=None):
    """Fetch a hub entry (or a URL with `sha1_hash`) into `folder`; return the local path.

    A file that is there with the right sha1 is used as it is, with no write at all. A
    checkpoint the learner saved (in checkpoints.checkpoint_dir()) is read in place."""
    if '://' in name_or_url:
        if sha1_hash is None:
            raise ValueError(f'pass sha1_hash= for {name_or_url} so the download can be verified')
        url, sha1 = name_or_url, sha1_hash
    else:
        url, sha1 = _lookup(name_or_url, hub)
    if urlparse(url).scheme not in ('http', 'https', 'file'):
        raise ValueError(f'cannot download {url}: only http(s) and file URLs are supported')
    sha1, fname = sha1.lower(), url.rsplit('/', 1)[-1]
    own = _own_checkpoint(url) if folder is None else None
    path = own if own is not None else Path(folder if folder is not None else data_dir()) / fname
    if _matches(path, sha1):
        return str(path)  # cache hit: no network, no write
    if own is not None:  # the learner's own file: never replaced nor deleted here
        state = 'is missing' if not path.exists() else f'has the sha1 {sha1_of(path)}'
        raise DownloadError(
            f'{path} {state}, not the {sha1} it was registered with: it was saved again (or '
            f'removed) since. Register it again (register_saved_model), or save it again.')
    with locked(path.parent, fname):
        if not _matches(path, sha1):
            # Wrong content is never useful; dropping it means a failed fetch leaves nothing.
            path.unlink(missing_ok=True)
            _fetch(url, sha1, path)
    return str(path)


# ---------------------------------------------------------------------------------------------
# Unpacking

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
    if parts[0] in reserved or parts[0].startswith(f'.{archive.name}.'):
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


def _unpacked(target, marker, sha1):
    try:
        return target.exists() and marker.read_text().strip() == sha1
    except FileNotFoundError:
        return False


def _unpack(archive, sha1, marker):
    """Unpack `archive` beside itself (the caller holds its lock): into a hidden folder first,
    then each top-level entry renamed into place, then the marker."""
    base = archive.parent
    tmp = _temp_path(base, archive.name, 'unpack')
    try:
        tmp.mkdir()
        _extract(archive, tmp, reserved={archive.name, marker.name})
        for path in [tmp, *tmp.rglob('*')]:
            _readable_like(path, base)
        # An old marker goes first: from here until the new one is written, nothing is complete.
        marker.unlink(missing_ok=True)
        for entry in sorted(tmp.iterdir()):
            dest = base / entry.name
            if dest.exists() or dest.is_symlink():
                # Only an entry of another archive version, or one placed by a run that stopped
                # before its marker, is here: moved aside, removed once the new one is in place.
                os.rename(dest, _temp_path(base, archive.name, 'old'))
            os.rename(entry, dest)
    finally:
        _remove_debris(base, archive.name)  # our hidden folder, and what was moved aside
    # Last, so that a process killed before has left nothing complete, and one killed after
    # nothing but (at most) the lock file
    write_atomic(marker, f'{sha1}\n'.encode(), archive.name)


def download_extract(name, folder=None, hub=None):
    """Fetch the archive `name` and unpack it beside itself; return <dir>/<folder or stem>.

    An archive unpacked before (its marker holds the archive's sha1) is used as it is, with
    no write at all; otherwise one process unpacks it while others wait for it."""
    url, sha1 = _lookup(name, hub)
    stem = _archive_stem(url.rsplit('/', 1)[-1])  # fail before downloading a non-archive
    archive = Path(download(name, hub=hub))
    base, sha1 = archive.parent, sha1.lower()
    target = base / (folder or stem)
    # Written only after a complete extraction, holding the archive's sha1: a new archive
    # (new sha1) or an interrupted run gets extracted again, a finished one never.
    marker = base / (archive.name + '.extracted')
    if not _unpacked(target, marker, sha1):
        with locked(base, archive.name):
            if not _unpacked(target, marker, sha1):
                _unpack(archive, sha1, marker)
    return str(target)


def sha1_of(path):
    """The sha1 of a file's content, as DATA_HUB lists it."""
    return pooch.file_hash(str(path), alg='sha1')


def write_zip(path, files, compresslevel=None, compression=zipfile.ZIP_DEFLATED, lock_name=None):
    """Write `files` ({name in the zip: bytes}, in that order) as the zip `path` and return
    `path`. Fixed timestamps and permissions make the same content give the same bytes; the
    zip is written under a temporary name and renamed, so a half-written one never shows.
    `compression` ZIP_BZIP2 makes text about half as big as deflate does (Python reads both).
    `lock_name`: as for write_atomic."""
    tmp = _temp_path(Path(path).parent, lock_name or Path(path).name, 'tmp')
    try:
        with zipfile.ZipFile(tmp, 'x') as zf:
            for name, data in files.items():
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = compression
                info.create_system = 3  # Unix on every system, for the permission bits below
                info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
                zf.writestr(info, data, compresslevel=compresslevel)
        _readable_like(tmp, Path(path).parent)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
