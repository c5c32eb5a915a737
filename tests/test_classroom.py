"""A class on one server: many kernels at once on one data folder, a folder the learners may only
read, learners' own checkpoints, and processes killed half-way. The processes themselves are in
classroom_worker.py; these tests start them and judge what they saw."""
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from d2lmini import hub
from d2lmini.pretraining import _read_wiki
from d2lmini.snli import read_snli

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / 'tests' / 'classroom_worker.py'
ROUNDS, PROCESSES = 3, 6


def run_worker(*args, env=None, prefix=()):
    env = {**{k: v for k, v in os.environ.items() if k != 'D2LMINI_DATA_DIR'},
           'PYTHONPATH': str(REPO), **(env or {})}
    done = subprocess.run([*prefix, sys.executable, str(WORKER), *map(str, args)], env=env, check=False,
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def hidden(names):
    return [n for n in names if any(part.startswith('.') for part in Path(n).parts)]


@pytest.fixture(scope='module')
def class_folder(tmp_path_factory):
    """A folder filled as the README tells a teacher, with a umask that hides new files."""
    folder = tmp_path_factory.mktemp('class') / 'data'
    done = subprocess.run(
        f'umask 077 && "{sys.executable}" -m d2lmini.classroom "{folder}" --mode reduced',
        shell=True, check=False, capture_output=True, text=True, timeout=300, cwd=REPO,
        env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert done.returncode == 0, done.stderr
    assert 'c.Spawner.environment = {"D2LMINI_DATA_DIR": ' in done.stdout
    return folder


def test_the_teacher_fills_a_folder_readable_by_all(class_folder):
    names = sorted(p.name for p in class_folder.iterdir())
    assert names == ['bert.mini', 'bert.mini.torch', 'bert.mini.torch.zip',
                     'bert.mini.torch.zip.extracted', 'bert.mini.zip', 'bert.mini.zip.extracted',
                     'snli-mini', 'snli-mini.zip', 'snli-mini.zip.extracted', 'wikitext-2-mini',
                     'wikitext-2-mini.zip', 'wikitext-2-mini.zip.extracted']
    for path in [class_folder, *class_folder.rglob('*')]:
        mode = path.stat().st_mode
        wanted = 0o555 if path.is_dir() else 0o444
        assert mode & wanted == wanted, (path, oct(mode))
        assert not mode & 0o022, (path, oct(mode))  # nobody else may write
    # A second run checks and changes nothing
    before = {p: p.stat().st_mtime_ns for p in class_folder.rglob('*')}
    subprocess.run([sys.executable, '-m', 'd2lmini.classroom', str(class_folder), '--mode',
                    'reduced'], check=True, capture_output=True, cwd=REPO)
    assert before == {p: p.stat().st_mtime_ns for p in class_folder.rglob('*')}


def test_full_mode_offline_says_what_is_missing(class_folder, tmp_path):
    shutil.copytree(class_folder, tmp_path / 'd')  # filled for reduced mode
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    done = subprocess.run(
        [sys.executable, '-m', 'd2lmini.classroom', str(tmp_path / 'd'), '--mode', 'full'],
        check=False, capture_output=True, text=True, timeout=300, cwd=REPO,
        env={**os.environ, 'D2LMINI_MIRROR': f'http://127.0.0.1:{port}', 'D2LMINI_TIMEOUT': '2'})
    assert done.returncode == 1
    assert 'Not ready' in done.stderr and 'snli_1.0.zip' in done.stderr
    assert 'bert.small (mxnet)' in done.stderr and 'sha1sum' in done.stderr
    assert 'ok       snli-mini' in done.stdout  # the reduced part is there all the same
    assert not (tmp_path / 'd' / 'snli_1.0.zip').exists()


@pytest.fixture(scope='module')
def lesson(tmp_path_factory):
    """Many kernels at once on empty folders, then two learners saving at once (one process
    that imports the frameworks once, then forks)."""
    base = tmp_path_factory.mktemp('lesson')
    return base, run_worker('lesson', base, ROUNDS, PROCESSES)


def test_many_kernels_at_once_on_an_empty_folder(lesson):
    base, seen = lesson
    tmp_path, seen = base / 'readers', seen['readers']
    expected_names = None
    for r in seen['rounds']:
        assert [x['exitcode'] for x in r['results']] == [0] * PROCESSES
        assert all(x['status'] == 'ok' for x in r['results']), r['results']
        # Every process read the same complete data as one process alone, ...
        assert all(x['value'][0] == seen['alone'] for x in r['results'])
        # ... from the very same folders: none was removed or replaced under another
        inodes = [x['value'][1] for x in r['results']]
        assert all(i == inodes[0] for i in inodes)
        assert hidden(r['listing']) == []  # no lock, temporary file or folder left
        expected_names = expected_names or r['listing']
        assert r['listing'] == expected_names
    alone = seen['alone']
    folder = tmp_path / 'alone'
    assert alone['snli'] == [len(read_snli(folder / 'snli-mini', t)[2]) for t in (True, False)]
    assert alone['wiki'] == len(_read_wiki(folder / 'wikitext-2-mini')[0])
    if 'mxnet' in seen['tracks']:  # the two tracks' bert.mini hold the same weights
        assert alone['torch bert.mini'] == pytest.approx(alone['mxnet bert.mini'])
    print(f'{ROUNDS} rounds of {PROCESSES} processes: '
          + ', '.join(f"{r['seconds']:.1f}" for r in seen['rounds']) + ' s')


def test_two_learners_saving_bert_mine_at_once_keep_their_own(lesson):
    seen = lesson[1]['learners']
    (s1, one), (s2, two) = seen['results']
    assert s1 == s2 == 'ok', seen['results']
    tracks = [k for k in one if 'checksum' not in k]
    assert tracks and all(one[fw] and two[fw] for fw in tracks)  # each loads back its own
    assert all(one[f'{fw} checksum'] != two[f'{fw} checksum'] for fw in tracks)
    assert not [n for n in seen['shared'] if 'mine' in n]  # nothing in the shared folder
    for learner in ('learner1', 'learner2'):
        names = seen[learner]
        assert 'd2lmini/checkpoints/bert.mine.torch.zip' in names
        assert 'd2lmini/checkpoints/bert.mine.torch.zip.json' in names
        assert hidden(names) == []


def test_killed_at_any_step_a_later_run_succeeds(tmp_path):
    seen = run_worker('kills', tmp_path)
    # Every step of fetching, unpacking and saving was a kill point, and after each a clean
    # run got complete data and the saved checkpoint
    assert seen['points'] >= 40 and seen['failures'] == []
    # What a killed run may leave: only a lock file, when killed just after its work was done
    assert all(Path(n).suffix == '.lock' for _, names in seen['debris'] for n in names)
    assert seen['random_kills'] > 0 and seen['random_clean'] == 0


def read_only_prefix(folder):
    """A command prefix under which `folder` is a read-only mount, or None and why not. CI runs
    as root, whom permissions do not stop: a mount namespace (unshare) is what holds."""
    flags = '-m' if os.geteuid() == 0 else '-rm'
    unshare, mount = shutil.which('unshare'), shutil.which('mount')
    if not (unshare and mount):
        return None, 'unshare(1) or mount(8) is missing'
    script = ('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" || exit 97; '
              'exec "$@"')
    prefix = [unshare, flags, 'sh', '-c', script, str(folder)]
    probe = subprocess.run([*prefix, 'sh', '-c', f'! touch "{folder}/probe"'],
                           check=False, capture_output=True, text=True)
    if probe.returncode != 0:
        return None, f'no read-only mount namespace here: {probe.stderr.strip()[:300]}'
    return prefix, None


def test_a_read_only_class_folder_serves_both_tracks_and_saves_go_to_the_learner(
        class_folder, tmp_path):
    prefix, why = read_only_prefix(class_folder)
    if prefix is None:
        pytest.skip(why)
    cache = tmp_path / 'learner-cache'
    seen = run_worker('readonly', class_folder, prefix=prefix,
                      env={'D2LMINI_DATA_DIR': str(class_folder), 'XDG_CACHE_HOME': str(cache)})
    assert seen['writable'] is False  # the mount held
    folder = class_folder
    assert seen['seen']['snli'] == [len(read_snli(folder / 'snli-mini', t)[2])
                                    for t in (True, False)]
    assert seen['seen']['wiki'] == len(_read_wiki(folder / 'wikitext-2-mini')[0])
    if 'mxnet' in seen['tracks']:
        assert seen['seen']['torch bert.mini'] == pytest.approx(seen['seen']['mxnet bert.mini'])
    assert all(seen['saved'][fw] for fw in seen['tracks'])
    assert seen['unchanged']  # not a file of the class folder was touched
    # the learner's own folder (classroom_worker gives learner 7 one in the cache given)
    assert (cache / 'learner7' / 'd2lmini' / 'checkpoints' / 'bert.mine.torch.zip').is_file()
    message = seen['missing_error']
    for part in (f'cannot write extra.zip in the folder {folder}', 'Read-only file system',
                 f'python -m d2lmini.classroom {folder}', 'unset D2LMINI_DATA_DIR'):
        assert part in message, message


def test_reading_a_filled_folder_writes_nothing(class_folder, monkeypatch):
    """Without a mount: after the first use, no file or folder is created, changed or removed
    (no marker, lock or temporary file), and the folder's own time stamp stays."""
    monkeypatch.setenv('D2LMINI_DATA_DIR', str(class_folder))
    before = {p: p.stat().st_mtime_ns for p in [class_folder, *class_folder.rglob('*')]}
    for name in ('snli-mini', 'wikitext-2-mini'):
        hub.download_extract(name)
    assert before == {p: p.stat().st_mtime_ns for p in [class_folder, *class_folder.rglob('*')]}
    assert not stat.S_IMODE(class_folder.stat().st_mode) & 0o022
