"""Fill a data folder for a class, once, before the lesson:

    python -m d2lmini.classroom DIR --mode reduced      # the bundled files: no network
    python -m d2lmini.classroom DIR --mode full         # also SNLI, WikiText-2 and bert.small
    python -m d2lmini.classroom DIR --mode full --add bert.base   # and more DATA_HUB names

It fetches and unpacks into DIR what the notebooks of both frameworks need in that mode (full
includes reduced), checks the sha1 of every archive and that each is unpacked, and makes
everything readable, but not writable, by all. Then set D2LMINI_DATA_DIR=DIR for every kernel:
the learners only read it, and the checkpoints they save go to their own folders. Running it
again checks the folder and fetches only what is missing; it may run while kernels read.
"""
import argparse
import os
import stat
import sys
from pathlib import Path

from . import checkpoints, hub

FRAMEWORKS = ('torch', 'mxnet')
# (DATA_HUB name, the folder download_extract is asked for), as the notebooks ask
DATA = {'reduced': [('snli-mini', None), ('wikitext-2-mini', None)],
        'full': [('SNLI', None), ('wikitext-2', 'wikitext-2')]}
CHECKPOINTS = {'reduced': ['bert.mini'], 'full': ['bert.small']}


def entries(mode, extra=()):
    """What a mode needs: (label, hub, name, folder) for each archive; full includes reduced."""
    modes = ['reduced'] if mode == 'reduced' else ['reduced', 'full']
    data = [d for m in modes for d in DATA[m]]
    names = [n for m in modes for n in CHECKPOINTS[m]]
    for name in extra:
        if name in hub.DATA_HUB:
            data.append((name, None))
        elif name in checkpoints.HUB['torch']:
            names.append(name)
        else:
            known = sorted({*hub.DATA_HUB, *checkpoints.HUB['torch']})
            raise SystemExit(f'--add {name}: unknown; known names: {", ".join(known)}')
    found = [(name, hub.DATA_HUB, name, folder) for name, folder in data]
    for name in names:
        for fw in FRAMEWORKS:
            found.append((f'{name} ({fw})', {**hub.DATA_HUB, **checkpoints.HUB[fw]}, name, None))
    return found


def readable_by_all(folder):
    """Add read permission (and search, for folders) for everyone to `folder` and everything
    in it; write permissions stay as they are."""
    for path in [folder, *folder.rglob('*')]:
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            path.chmod(stat.S_IMODE(mode) | 0o555)
        elif stat.S_ISREG(mode):
            path.chmod(stat.S_IMODE(mode) | 0o444)


def fill(folder, mode, extra=()):
    """Fill `folder` for `mode`; return the list of problems (empty: ready for the class)."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ['D2LMINI_DATA_DIR'] = str(folder)  # hub.data_dir() is this folder now
    problems = []
    for label, data_hub, name, sub in entries(mode, extra):
        url, sha1 = data_hub[name]
        fname = url.rsplit('/', 1)[-1]
        try:
            target = Path(hub.download_extract(name, sub, hub=data_hub))
            archive = folder / fname
            # Checked again here, whatever the hub found: the file and its marker
            marker = folder / f'{fname}.extracted'
            ok = (hub.sha1_of(archive) == sha1 and target.is_dir()
                  and marker.read_text().strip() == sha1)
        except (OSError, ValueError) as err:
            problems.append(f'{label}: {err}')
            print(f'  FAILED   {label}: {fname}', flush=True)
            continue
        if not ok:
            problems.append(f'{label}: {fname} or its unpacked folder does not match sha1 {sha1}')
        print(f'  {"ok" if ok else "WRONG":8} {label}: {fname} sha1 {sha1}, '
              f'unpacked as {target.name}/', flush=True)
    readable_by_all(folder)
    for parent in folder.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            # Learners may still get through as a group or by an ACL: a note, not a failure
            print(f'Note: {parent} is not searchable by others (chmod o+x): learners reach '
                  f'{folder} only if a group or an ACL lets them through it.', flush=True)
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m d2lmini.classroom',
        description='Fill a data folder for a class: what the notebooks need in a mode, every '
                    'sha1 checked, readable by all. Then set D2LMINI_DATA_DIR to it for every '
                    'kernel.')
    parser.add_argument('folder', type=Path, help='the shared data folder')
    parser.add_argument('--mode', choices=['reduced', 'full'], required=True,
                        help='reduced: the bundled files; full: also SNLI, WikiText-2 and '
                             'bert.small (downloads, about 1 GB unpacked)')
    parser.add_argument('--add', action='append', default=[], metavar='NAME',
                        help='another DATA_HUB name, such as bert.base (both frameworks)')
    args = parser.parse_args(argv)
    print(f'Filling {args.folder.resolve()} for mode {args.mode}:', flush=True)
    problems = fill(args.folder, args.mode, args.add)
    if problems:
        print('\nNot ready:\n' + '\n'.join(f'- {p}' for p in problems), file=sys.stderr)
        return 1
    folder = args.folder.resolve()
    print(f'\nReady: every file above matches its sha1, and everyone may read {folder}.\n'
          f'Give every kernel D2LMINI_DATA_DIR={folder}, for example in JupyterHub\'s '
          f'configuration:\n'
          f'    c.Spawner.environment = {{"D2LMINI_DATA_DIR": "{folder}"}}\n'
          f'Learners need no write access here: their checkpoints go to their own folders.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
