"""Notebooks that share a machine: each notebook alone, then two of the same track at once.

    python -m tools.bench_shared notebooks [--tracks pytorch mxnet] [--repeat 3]   (make bench-shared)

Two students on one server, or a notebook beside another job: a fair share of the machine makes
each of two notebooks take twice its time alone, and threads that spin while they wait for each
other make it far worse. For each track this runs the track's first notebook (reduced mode, as
`make run` does) `--repeat` times alone, then `--pairs` times two copies at once, and prints JSON
lines: the seconds, and each concurrent notebook's time over the median time alone (target: at
most 2.3). Run it on an otherwise idle machine.

--env NAME=VALUE sets a variable for the notebooks (e.g. OMP_WAIT_POLICY=ACTIVE to compare), and
--pythonpath DIR makes them import d2lmini from another checkout (a git worktree of an older
commit, to compare with it).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET = 2.3  # each of two concurrent notebooks takes at most this many times its time alone


def run_one(path, out_dir):
    """Execute one notebook in this process's environment; {'seconds', 'acc', 'error'}."""
    from tools import runbook

    seconds, acc, error = runbook.run_one(Path(path), Path(out_dir), timeout=1800,
                                          in_place=False, roots=set())
    return {'seconds': round(seconds, 2), 'acc': acc, 'error': error}


def start(path, out_dir, env):
    return subprocess.Popen([sys.executable, '-m', 'tools.bench_shared', '--one', str(path),
                             str(out_dir)], env=env, stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])


def finish(proc):
    out, _ = proc.communicate()
    result = json.loads(out.strip().splitlines()[-1])
    if result['error']:
        sys.exit(f'a notebook failed: {result["error"]}')
    return result['seconds']


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tools.bench_shared',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('src', type=Path, nargs='?',
                        help='folder of <track>/<topic>.ipynb notebooks')
    parser.add_argument('--tracks', nargs='+', default=['pytorch', 'mxnet'])
    parser.add_argument('--repeat', type=int, default=3, help='runs alone (the median is used)')
    parser.add_argument('--pairs', type=int, default=1, help='runs of two notebooks at once')
    parser.add_argument('--env', action='append', default=[], metavar='NAME=VALUE')
    parser.add_argument('--pythonpath', help='import d2lmini from this folder instead')
    parser.add_argument('--one', nargs=2, metavar=('NOTEBOOK', 'OUT'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return 0
    if args.src is None:
        parser.error('give the folder of the notebooks (notebooks)')
    env = dict(os.environ, **dict(kv.split('=', 1) for kv in args.env))
    env.setdefault('D2LMINI_MODE', 'reduced')
    if args.pythonpath:
        env['PYTHONPATH'] = os.pathsep.join(filter(None, [args.pythonpath,
                                                          env.get('PYTHONPATH')]))
    settings = {'env': args.env, 'pythonpath': args.pythonpath, 'cpus': os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix='bench-shared-') as tmp:
        for track in args.tracks:
            # The fine-tuning notebook, whose figures the README gives, where there is one
            path = args.src / track / 'natural-language-inference-bert.ipynb'
            if not path.exists():
                path = min((args.src / track).glob('*.ipynb'))
            alone = [finish(start(path, Path(tmp) / f'alone{i}', env))
                     for i in range(args.repeat)]
            median = statistics.median(alone)
            together = []
            for i in range(args.pairs):
                procs = [start(path, Path(tmp) / f'pair{i}-{j}', env) for j in range(2)]
                together += [finish(p) for p in procs]
            ratios = [round(t / median, 2) for t in together]
            print(json.dumps({'track': track, 'notebook': path.name, **settings,
                              'alone_seconds': alone, 'alone_median': median,
                              'together_seconds': together, 'ratios': ratios,
                              'target': TARGET,
                              'meets_target': max(ratios) <= TARGET if ratios else None}),
                  flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
