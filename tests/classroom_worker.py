"""Processes that use one data folder as a class would, for tests/test_classroom.py.

    python tests/classroom_worker.py readers BASE ROUNDS PROCS   many kernels at once
    python tests/classroom_worker.py learners BASE               two learners save bert.mine
    python tests/classroom_worker.py lesson BASE ROUNDS PROCS    readers, then learners
    python tests/classroom_worker.py kills BASE                  SIGKILL at every step, then rerun
    python tests/classroom_worker.py readonly DATA               inside a read-only mount

Each prints one JSON line of what it saw; the test judges it. The frameworks are imported once
and the processes forked from this one (started together at a barrier), so that many rounds
cost seconds, not an import each.
"""
import json
import multiprocessing
import os
import random
import shutil
import signal
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from d2lmini import checkpoints, hub
from d2lmini.mxnet_compat import mxnet_problem


def frameworks():
    """The twins that run here: PyTorch always, MXNet where it can."""
    from d2lmini import torch as d2l_torch
    found = {'torch': d2l_torch}
    if not mxnet_problem():
        from d2lmini import mxnet as d2l_mx
        found['mxnet'] = d2l_mx
    return found


def cpu(fw):
    if fw == 'torch':
        import torch
        return [torch.device('cpu')]
    import mxnet as mx
    return [mx.cpu()]


def params_of(fw, net):
    """Every parameter of a BERT, as numpy arrays in a fixed order."""
    if fw == 'torch':
        return [v.detach().cpu().numpy() for v in net.state_dict().values()]
    # structural names (encoder.blks.0...), the same in every model of one shape
    return [p.data().asnumpy() for p in net._collect_params_with_prefix().values()]


def checksum(arrays):
    return float(sum(np.abs(a.astype(np.float64)).sum() for a in arrays))


def read_everything(twins):
    """What kernels of each track read, as the notebooks read it: a summary to compare, and
    the inode of every folder it was given (the same inode everywhere: never replaced). The
    data sets are the same entries in both tracks: read once."""
    seen, inodes = {}, {}
    d2l = twins['torch']
    folder = d2l.download_extract('snli-mini')
    train, test = d2l.read_snli(folder, True), d2l.read_snli(folder, False)
    seen['snli'], inodes['snli-mini'] = [len(train[2]), len(test[2])], os.stat(folder).st_ino
    folder = d2l.download_extract('wikitext-2-mini')
    paragraphs, _ = d2l._read_wiki(folder)
    seen['wiki'], inodes['wikitext-2-mini'] = len(paragraphs), os.stat(folder).st_ino
    for fw, d2l in twins.items():
        folder = d2l.download_extract('bert.mini')
        inodes[f'{fw} bert.mini'] = os.stat(folder).st_ino
        bert, vocab = d2l.load_pretrained_model('bert.mini', **d2l.BERT_CONFIGS['bert.mini'],
                                                devices=cpu(fw))
        seen[f'{fw} bert.mini'] = [len(vocab), checksum(params_of(fw, bert))]
    return seen, inodes


def _together(barrier, job, conn, *args):
    try:
        barrier.wait()
        conn.send(('ok', job(*args)))
    except BaseException as err:  # noqa: BLE001 (everything a child meets goes to the parent)
        conn.send(('error', f'{type(err).__name__}: {err}'))
    finally:
        conn.close()


def run_together(n, job, *args):
    """Run job(*args) in n forked processes released at one barrier; return their results."""
    ctx = multiprocessing.get_context('fork')
    barrier, pipes, procs = ctx.Barrier(n), [], []
    for _ in range(n):
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_together, args=(barrier, job, child, *args))
        proc.start()
        child.close()
        pipes.append(parent)
        procs.append(proc)
    results = [p.recv() if p.poll(120) else ('error', 'no answer') for p in pipes]
    for proc in procs:
        proc.join(30)
    return [dict(zip(('status', 'value'), r), exitcode=p.exitcode) for r, p in zip(results, procs)]


def listing(folder):
    """Every name in a folder tree, relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob('*'))


def readers(base, rounds, procs):
    twins = frameworks()
    out = {'tracks': sorted(twins), 'rounds': []}
    for r in range(rounds):
        folder = Path(base) / f'round{r}'
        folder.mkdir()
        os.environ['D2LMINI_DATA_DIR'] = str(folder)
        start = time.perf_counter()
        results = run_together(procs, read_everything, twins)
        out['rounds'].append({'seconds': time.perf_counter() - start, 'results': results,
                              'listing': listing(folder)})
    # The reference: one process alone, on a folder of its own
    os.environ['D2LMINI_DATA_DIR'] = str(Path(base) / 'alone')
    out['alone'] = read_everything(twins)[0]
    return out


def save_and_load_back(seed, twins):
    """A learner with their own per-user cache saves bert.mine in every track, then (as the
    NLI notebook does in a new session) registers it and loads it back."""
    os.environ['XDG_CACHE_HOME'] = os.path.join(os.environ['LEARNERS'], f'learner{seed}')
    same = {}
    for fw, d2l in twins.items():
        config = d2l.BERT_CONFIGS['bert.mini']
        vocab = d2l.Vocab([['a', 'man', 'runs', '.']], reserved_tokens=checkpoints_reserved())
        if fw == 'torch':
            import torch
            torch.manual_seed(seed)
            net = d2l.BERTModel(len(vocab), **config)
        else:
            import mxnet as mx
            mx.random.seed(seed)
            net = d2l.BERTModel(len(vocab), **config)
            net.initialize(mx.init.Xavier(), ctx=[mx.cpu()])
        mine = params_of(fw, net)
        for _ in range(3):  # saved again and again, as a learner re-runs the cell
            d2l.save_pretrained_model(net, vocab, 'bert.mine', config)
        del d2l.DATA_HUB['bert.mine']
        d2l.register_saved_model('bert.mine')
        bert, _ = d2l.load_pretrained_model('bert.mine', **config, devices=cpu(fw))
        back = params_of(fw, bert)
        same[fw] = len(back) == len(mine) and all(np.array_equal(a, b) for a, b in zip(mine, back))
        same[f'{fw} checksum'] = checksum(mine)
    return same


def checkpoints_reserved():
    from d2lmini.text import RESERVED
    return RESERVED


def learners(base):
    twins = frameworks()
    folder = Path(base) / 'shared'  # one data folder for both, writable by both
    folder.mkdir()
    os.environ['D2LMINI_DATA_DIR'] = str(folder)
    os.environ['LEARNERS'] = str(base)
    ctx = multiprocessing.get_context('fork')
    barrier = ctx.Barrier(2)
    results = []
    for seed in (1, 2):
        parent, child = ctx.Pipe(duplex=False)
        ctx.Process(target=_together, args=(barrier, save_and_load_back, child, seed,
                                            twins)).start()
        child.close()
        results.append(parent)
    results = [p.recv() if p.poll(120) else ('error', 'no answer') for p in results]
    return {'results': results, 'shared': listing(folder),
            'learner1': listing(Path(base) / 'learner1'),
            'learner2': listing(Path(base) / 'learner2')}


def lesson(base, rounds, procs):
    """readers, then learners, in one process: the frameworks are imported once."""
    (Path(base) / 'readers').mkdir()
    (Path(base) / 'learners').mkdir()
    return {'readers': readers(Path(base) / 'readers', rounds, procs),
            'learners': learners(Path(base) / 'learners')}


# --- SIGKILL at every step --------------------------------------------------------------------

def _archives(base):
    """Small archives standing in for the bundled ones (which take seconds to unpack): a zip
    with several folders and a .tar.gz, as DATA_HUB entries."""
    import io
    import tarfile
    src = Path(base) / 'src'
    if not src.exists():
        src.mkdir(parents=True)
        rng = np.random.default_rng(1)
        hub.write_zip(src / 'corpus.zip', {
            f'corpus/{split}.txt': rng.bytes(20_000) for split in ('train', 'valid', 'test')})
        with tarfile.open(src / 'model.tar.gz', 'w:gz') as tf:
            for name in ('model/vocab.json', 'model/pretrained.params', 'extra/readme.txt'):
                data = rng.bytes(30_000)
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return {p.name: (p.as_uri(), hub.sha1_of(p)) for p in sorted(src.iterdir())}


def _workflow():
    """Fetch and unpack archives, then save a checkpoint twice: framework-free, the steps both
    tracks take."""
    entries = _archives(os.environ['SOURCES'])
    for name in entries:
        hub.download_extract(name, hub=entries)
    params = np.random.default_rng(0).bytes(100_000)  # stands in for a framework's file
    for _ in range(2):
        checkpoints.save_checkpoint('bert.mine', 'bert.mine.torch.zip', b'["<unk>", "a"]',
                                    params, checkpoints.BERT_CONFIGS['bert.mini'], {})
    return params


def _check(params):
    """What a later run must see: every folder complete, the checkpoint whole."""
    import tarfile
    entries = _archives(os.environ['SOURCES'])
    for name, (url, _) in entries.items():
        hub.download_extract(name, hub=entries)
        source = hub.url2pathname(hub.urlparse(url).path)
        if name.endswith('.zip'):
            with zipfile.ZipFile(source) as zf:
                files = {i.filename: zf.read(i) for i in zf.infolist()}
        else:
            with tarfile.open(source) as tf:
                files = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}
        for member, data in files.items():
            assert (hub.data_dir() / member).read_bytes() == data, member
    h = {}
    checkpoints.register_saved_checkpoint('bert.mine', 'bert.mine.torch.zip', h)
    folder = Path(hub.download_extract('bert.mine', hub=h))
    assert (folder / 'pretrained.params').read_bytes() == params


STEPS = [('os', 'rename'), ('os', 'replace'), ('shutil', 'copyfile'), ('shutil', 'rmtree'),
         ('zipfile.ZipFile', 'extract'), ('zipfile.ZipFile', 'writestr'),
         ('pathlib.Path', 'unlink'), ('pathlib.Path', 'mkdir'), ('builtins', 'open')]


def _kill_at(k):
    """Make this process SIGKILL itself at its k-th step (a call to one of STEPS that touches
    the data or checkpoint folder): before the call, or, for a copy, half-way through it."""
    import builtins
    import pathlib
    modules = {'os': os, 'shutil': shutil, 'zipfile.ZipFile': zipfile.ZipFile,
               'pathlib.Path': pathlib.Path, 'builtins': builtins}
    count = [0]
    roots = (os.environ['D2LMINI_DATA_DIR'], os.environ['XDG_CACHE_HOME'])

    def wrap(owner, name, real):
        def step(*args, **kwargs):
            paths = [a.filename if isinstance(a, zipfile.ZipFile) else str(a) for a in args[:3]]
            if any(p and p.startswith(roots) for p in paths):
                count[0] += 1
                if count[0] == k:
                    if name == 'copyfile':  # a copy that stops half-way
                        data = Path(args[0]).read_bytes()
                        Path(args[1]).write_bytes(data[:len(data) // 2])
                    os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)
        return step
    for owner, name in STEPS:
        setattr(modules[owner], name, wrap(owner, name, getattr(modules[owner], name)))


def _one(job, *args):
    ctx = multiprocessing.get_context('fork')
    proc = ctx.Process(target=job, args=args)
    proc.start()
    proc.join(60)
    return proc.exitcode


def _killed_run(k):
    _kill_at(k)
    _workflow()


def _clean_run():
    _check(_workflow())


def _slow_run():
    _workflow()


def kills(base):
    """For k = 1, 2, ...: a run killed at its k-th step, then a clean run in the same folders
    that must succeed; until a run has fewer than k steps. Then runs killed at random times,
    several in a row on the same folders, and a clean run."""
    os.environ['SOURCES'] = str(Path(base) / 'sources')
    out = {'points': 0, 'failures': [], 'debris': []}
    for k in range(1, 500):
        os.environ['D2LMINI_DATA_DIR'] = str(Path(base) / f'k{k}' / 'data')
        os.environ['XDG_CACHE_HOME'] = str(Path(base) / f'k{k}' / 'cache')
        code = _one(_killed_run, k)
        if code == 0:
            break
        out['points'] += code == -signal.SIGKILL
        if _one(_clean_run) != 0:
            out['failures'].append(k)
        debris = [n for n in listing(Path(base) / f'k{k}') if Path(n).name.startswith('.')]
        if debris:
            out['debris'].append([k, debris])
        shutil.rmtree(Path(base) / f'k{k}')
    os.environ['D2LMINI_DATA_DIR'] = str(Path(base) / 'random' / 'data')
    os.environ['XDG_CACHE_HOME'] = str(Path(base) / 'random' / 'cache')
    start = time.perf_counter()
    _one(_slow_run)  # how long one run takes, on a fresh folder
    out['run_seconds'] = seconds = time.perf_counter() - start
    shutil.rmtree(Path(base) / 'random')
    rng = random.Random(0)
    out['random_kills'] = 0
    for _ in range(8):
        ctx = multiprocessing.get_context('fork')
        procs = [ctx.Process(target=_slow_run) for _ in range(3)]  # three at once
        for p in procs:
            p.start()
        time.sleep(rng.uniform(0, seconds))
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
                out['random_kills'] += 1
            p.join()
    out['random_clean'] = _one(_clean_run)
    return out


# --- A read-only data folder --------------------------------------------------------------------

def readonly(data):
    """Run inside a read-only mount of `data` (filled beforehand); the learner's own cache
    ($XDG_CACHE_HOME) is writable."""
    out = {}
    try:
        (Path(data) / 'probe').write_text('x')
        out['writable'] = True  # the mount did not hold: the test must not pass on this
    except OSError as err:
        out['writable'] = False
        out['probe_error'] = err.strerror
    twins = frameworks()
    out['tracks'] = sorted(twins)
    before = {n: os.stat(Path(data) / n).st_mtime_ns for n in listing(data)}
    out['seen'], _ = read_everything(twins)
    os.environ['LEARNERS'] = os.environ['XDG_CACHE_HOME']
    out['saved'] = save_and_load_back(7, twins)
    out['unchanged'] = before == {n: os.stat(Path(data) / n).st_mtime_ns for n in listing(data)}
    # A file the folder lacks: the write it needs is refused with a clear message
    missing = Path(os.environ['XDG_CACHE_HOME']) / 'extra.zip'
    hub.write_zip(missing, {'extra/a.txt': b'a'})
    try:
        hub.download_extract('extra', hub={'extra': (missing.as_uri(), hub.sha1_of(missing))})
        out['missing_error'] = None
    except hub.DataFolderError as err:
        out['missing_error'] = str(err)
    return out


if __name__ == '__main__':
    command, base, *rest = sys.argv[1:]
    jobs = {'readers': readers, 'learners': learners, 'lesson': lesson, 'kills': kills, 'readonly': readonly}
    result = jobs[command](base, *map(int, rest))
    print(json.dumps(result, default=str))
