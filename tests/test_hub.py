"""Tests of d2lmini.hub against a real HTTP server on 127.0.0.1 and temporary bundled files."""
import hashlib
import io
import socket
import stat
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from d2lmini import hub

GOOD = b'premise\thypothesis\tlabel\n' * 200
GOOD_SHA1 = hashlib.sha1(GOOD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.paths.append(self.path)
        name = self.path.rsplit('/', 1)[-1]
        if name == 'good.bin':
            self._send(GOOD)
        elif name == 'wrong.bin':
            self._send(b'an error page, not the data')
        elif name == 'truncated.bin':
            self.send_response(200)
            self.send_header('Content-Length', str(len(GOOD)))
            self.end_headers()
            self.wfile.write(GOOD[:100])  # then the connection closes: HTTP/1.0
        elif name == 'slow.bin':
            self.server.stop.wait(3)  # longer than the test timeout; ends early at teardown
            self._send(GOOD)
        elif name == 'error.bin':
            self.send_error(500)
        else:
            self.send_error(404)

    def _send(self, body):
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep pytest output clean
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that gave up on purpose (a timeout test) breaks the pipe: no traceback for
        # that, while any other error in a handler is still printed.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@pytest.fixture
def server(monkeypatch):
    srv = _Server(('127.0.0.1', 0), _Handler)
    srv.paths, srv.stop = [], threading.Event()
    thread = threading.Thread(target=srv.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv('D2LMINI_TIMEOUT', '0.5')
    yield srv, f'http://127.0.0.1:{srv.server_address[1]}'
    srv.stop.set()
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def closed_url():
    """A URL whose port refuses connections: the machine is 'offline' for it."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return f'http://127.0.0.1:{port}/files'


def _sha1(path):
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def test_download_verifies_and_saves(server, tmp_path):
    _, base = server
    path = hub.download(f'{base}/good.bin', folder=tmp_path, sha1_hash=GOOD_SHA1)
    assert path == str(tmp_path / 'good.bin')
    assert Path(path).read_bytes() == GOOD
    assert sorted(p.name for p in tmp_path.iterdir()) == ['good.bin']


def test_hub_name_is_looked_up(server, tmp_path):
    _, base = server
    path = hub.download('mine', folder=tmp_path, hub={'mine': (f'{base}/good.bin', GOOD_SHA1)})
    assert _sha1(path) == GOOD_SHA1


def test_cache_hit_needs_no_network(server, tmp_path, closed_url):
    srv, base = server
    hub.download(f'{base}/good.bin', folder=tmp_path, sha1_hash=GOOD_SHA1)
    # Same file name, unreachable host: only the cache can answer.
    path = hub.download(f'{closed_url}/good.bin', folder=tmp_path, sha1_hash=GOOD_SHA1)
    assert Path(path).read_bytes() == GOOD
    assert srv.paths == ['/good.bin']


def test_stale_cached_file_is_fetched_again(server, tmp_path):
    _, base = server
    (tmp_path / 'good.bin').write_bytes(b'stale')
    path = hub.download(f'{base}/good.bin', folder=tmp_path, sha1_hash=GOOD_SHA1)
    assert Path(path).read_bytes() == GOOD


@pytest.mark.parametrize('name, reason', [
    ('missing.bin', '404'),
    ('error.bin', '500'),
    ('truncated.bin', 'download failed'),
    ('wrong.bin', 'does not match'),
    ('slow.bin', 'timed out'),
])
def test_failures_raise_and_leave_nothing(server, tmp_path, name, reason):
    _, base = server
    (tmp_path / name).write_bytes(b'stale copy')  # must not survive as if cached
    start = time.monotonic()
    with pytest.raises(hub.DownloadError) as info:
        hub.download(f'{base}/{name}', folder=tmp_path, sha1_hash=GOOD_SHA1)
    assert time.monotonic() - start < 3
    msg = str(info.value)
    for part in (reason, f'{base}/{name}', str(tmp_path / name), GOOD_SHA1, 'sha1sum',
                 'D2LMINI_MIRROR'):
        assert part in msg
    assert list(tmp_path.iterdir()) == []


def test_offline_message_lists_file_sha1_and_place(tmp_path, closed_url):
    with pytest.raises(hub.DownloadError) as info:
        hub.download('snli', folder=tmp_path, hub={'snli': (f'{closed_url}/snli.zip', GOOD_SHA1)})
    msg = str(info.value)
    assert 'cannot reach the server' in msg and 'snli.zip is not in the data folder' in msg
    assert f'put it at {tmp_path / "snli.zip"}' in msg and GOOD_SHA1 in msg
    assert list(tmp_path.iterdir()) == []


def test_mirror_replaces_host_and_path(server, tmp_path, monkeypatch, closed_url):
    srv, base = server
    monkeypatch.setenv('D2LMINI_MIRROR', f'{base}/mirror/')
    path = hub.download(f'{closed_url}/deep/good.bin', folder=tmp_path, sha1_hash=GOOD_SHA1)
    assert Path(path).read_bytes() == GOOD
    assert srv.paths == ['/mirror/good.bin']


def test_data_dir_from_env(server, tmp_path, monkeypatch):
    _, base = server
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path / 'shared'))
    assert hub.data_dir() == tmp_path / 'shared' and (tmp_path / 'shared').is_dir()
    path = hub.download(f'{base}/good.bin', sha1_hash=GOOD_SHA1)
    assert path == str(tmp_path / 'shared' / 'good.bin')


def test_data_dir_defaults_to_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv('D2LMINI_DATA_DIR', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    assert hub.data_dir() == tmp_path / 'd2lmini'


def test_bad_arguments():
    with pytest.raises(KeyError, match="unknown data hub name 'nope'; known names: SNLI"):
        hub.download('nope')
    with pytest.raises(ValueError, match='sha1_hash'):
        hub.download('http://127.0.0.1/x.zip')
    with pytest.raises(ValueError, match='only http'):
        hub.download('ftp://127.0.0.1/x.zip', sha1_hash=GOOD_SHA1)


def test_book_entries_registered():
    assert hub.DATA_HUB['SNLI'][1] == '9fcde07509c7e87ec61c640c1b2753d9041758e4'
    assert hub.DATA_HUB['snli-mini'][0].startswith('file://')
    assert hub.DATA_HUB['snli-mini'][0].endswith('/d2lmini/data/snli-mini.zip')
    assert hub.DATA_URL == 'http://d2l-data.s3-accelerate.amazonaws.com/'


# --- bundled files and extraction ---------------------------------------------------------------

def _zip(path, members):
    with zipfile.ZipFile(path, 'w') as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _bundle(tmp_path, monkeypatch, filename, members):
    """Register a temporary 'bundled' archive; the data folder is tmp_path/data."""
    src = tmp_path / 'pkg'
    src.mkdir(exist_ok=True)
    archive = _zip(src / filename, members)
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path / 'data'))
    return {'ckpt': (archive.as_uri(), _sha1(archive))}


CKPT = {'bert.tiny.torch/vocab.json': '["<pad>"]', 'bert.tiny.torch/pretrained.params': 'w'}


def test_bundled_file_is_copied_and_checked(tmp_path, monkeypatch):
    h = _bundle(tmp_path, monkeypatch, 'bert.tiny.torch.zip', CKPT)
    path = hub.download('ckpt', hub=h)
    assert path == str(tmp_path / 'data' / 'bert.tiny.torch.zip')
    assert _sha1(path) == h['ckpt'][1]
    h['ckpt'] = (h['ckpt'][0], GOOD_SHA1)  # the bundled file no longer matches its entry
    with pytest.raises(hub.DownloadError, match='bundled file .* missing or damaged'):
        hub.download('ckpt', hub=h)
    assert list((tmp_path / 'data').iterdir()) == []


def test_download_extract_returns_folder(tmp_path, monkeypatch):
    h = _bundle(tmp_path, monkeypatch, 'bert.tiny.torch.zip', CKPT)
    out = Path(hub.download_extract('ckpt', hub=h))
    assert out == tmp_path / 'data' / 'bert.tiny.torch'
    assert (out / 'vocab.json').read_text() == '["<pad>"]'
    assert hub.download_extract('ckpt', folder='elsewhere', hub=h) == str(out.parent / 'elsewhere')
    assert sorted(p.name for p in out.parent.iterdir()) == [
        'bert.tiny.torch', 'bert.tiny.torch.zip', 'bert.tiny.torch.zip.extracted']


def test_extraction_is_skipped_when_done_and_redone_for_new_archive(tmp_path, monkeypatch):
    h = _bundle(tmp_path, monkeypatch, 'bert.tiny.torch.zip', CKPT)
    out = Path(hub.download_extract('ckpt', hub=h))

    def refuse(*args, **kwargs):
        raise AssertionError('extracted again')
    with monkeypatch.context() as m:
        m.setattr(zipfile.ZipFile, 'extract', refuse)
        assert hub.download_extract('ckpt', hub=h) == str(out)
    # A new archive under the same name (new sha1) is downloaded and extracted again.
    h = _bundle(tmp_path, monkeypatch, 'bert.tiny.torch.zip', {'bert.tiny.torch/vocab.json': '[]'})
    assert hub.download_extract('ckpt', hub=h) == str(out)
    assert sorted(p.name for p in out.iterdir()) == ['vocab.json']
    assert (out / 'vocab.json').read_text() == '[]'


def test_interrupted_extraction_is_not_taken_as_done(tmp_path, monkeypatch):
    h = _bundle(tmp_path, monkeypatch, 'bert.tiny.torch.zip', CKPT)
    calls, real_extract = [], zipfile.ZipFile.extract

    def fail_second(self, member, path=None, pwd=None):
        calls.append(member)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_extract(self, member, path, pwd)
    with monkeypatch.context() as m:
        m.setattr(zipfile.ZipFile, 'extract', fail_second)
        with pytest.raises(KeyboardInterrupt):
            hub.download_extract('ckpt', hub=h)
    assert [p.name for p in (tmp_path / 'data').iterdir()] == ['bert.tiny.torch.zip']
    out = Path(hub.download_extract('ckpt', hub=h))
    assert sorted(p.name for p in out.iterdir()) == ['pretrained.params', 'vocab.json']


@pytest.mark.parametrize('bad', ['../escape.txt', '/abs/escape.txt', 'C:/escape.txt',
                                 'bert.tiny.torch/../../escape.txt'])
def test_zip_escaping_members_are_refused(tmp_path, monkeypatch, bad):
    h = _bundle(tmp_path, monkeypatch, 'bert.tiny.torch.zip', {**CKPT, bad: 'x'})
    with pytest.raises(ValueError, match=f'member {bad!r} escapes'):
        hub.download_extract('ckpt', hub=h)
    assert [p.name for p in (tmp_path / 'data').iterdir()] == ['bert.tiny.torch.zip']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['data', 'pkg']


def _tar(path, link):
    with tarfile.open(path, 'w:gz') as tf:
        data = b'gold_label\n'
        info = tarfile.TarInfo('corpus/train.txt')
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo('corpus/passwd')
            info.type, info.linkname = tarfile.SYMTYPE, '/etc/passwd'
            tf.addfile(info)
    return path


def test_tar_gz_extracts_and_links_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path / 'data'))
    good, bad = _tar(tmp_path / 'corpus.tar.gz', False), _tar(tmp_path / 'evil.tgz', True)
    h = {'good': (good.as_uri(), _sha1(good)), 'bad': (bad.as_uri(), _sha1(bad))}
    out = Path(hub.download_extract('good', hub=h))
    assert out == tmp_path / 'data' / 'corpus'
    assert (out / 'train.txt').read_bytes() == b'gold_label\n'
    with pytest.raises(ValueError, match="'corpus/passwd' is a link"):
        hub.download_extract('bad', hub=h)
    assert not (out / 'passwd').exists()


def test_non_archive_is_refused_before_download(tmp_path, monkeypatch):
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(tmp_path / 'data'))
    with pytest.raises(ValueError, match='only .zip, .tar'):
        hub.download_extract('x', hub={'x': ('http://127.0.0.1:9/x.bin', GOOD_SHA1)})
    assert not (tmp_path / 'data').exists() or list((tmp_path / 'data').iterdir()) == []


def test_write_zip_is_reproducible_and_leaves_no_temporary_file(tmp_path):
    files = {'pack/b.txt': b'second', 'pack/a.txt': b'first' * 100}
    first = hub.write_zip(str(tmp_path / 'one.zip'), files)
    time.sleep(1.1)  # a later clock must not change the bytes
    second = hub.write_zip(str(tmp_path / 'two.zip'), files, compresslevel=9)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['one.zip', 'two.zip']
    with open(first, 'rb') as f:
        data = f.read()
    assert hub.sha1_of(first) == hashlib.sha1(data).hexdigest()
    with zipfile.ZipFile(first) as zf:
        assert zf.namelist() == ['pack/b.txt', 'pack/a.txt']  # in the given order
        assert all(stat.S_ISREG(info.external_attr >> 16) for info in zf.infolist())
        assert zf.read('pack/a.txt') == b'first' * 100
    assert Path(hub.write_zip(str(tmp_path / 'three.zip'), files)).read_bytes() == data
    with zipfile.ZipFile(second) as zf:
        assert zf.read('pack/b.txt') == b'second'
