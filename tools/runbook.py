"""Execute every notebook headlessly, as `make run` and `make notebooks` do.

    python -m tools.runbook notebooks build [--in-place]

Each notebooks/<framework>/<topic>.ipynb runs in a fresh kernel of this very Python, from its own
folder and in reduced mode (unless D2LMINI_MODE is set), so no network is needed. The executed copy
and an HTML rendering go to build/<framework>/<topic>.{ipynb,html}; --in-place also stores the
outputs in the source notebook. Where MXNet cannot run (d2lmini.mxnet_compat.mxnet_problem says
why), the MXNet notebooks are skipped with that reason.
"""
import argparse
import os
import re
import sys
import time
from pathlib import Path

try:
    import nbformat
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec
    from nbclient import NotebookClient
    from nbclient.exceptions import CellControlSignal
    from nbconvert import HTMLExporter
except ImportError as err:
    sys.exit(f"{err}: the runbook needs Jupyter; install it with pip install -e '.[notebooks]'")

from d2lmini.mxnet_compat import mxnet_problem

ACC_LINE = re.compile(r'loss \d+\.\d+, train acc \d+\.\d+, test acc (\d+\.\d+)')
REPO = Path(__file__).resolve().parents[1]


class CurrentEnvKernel(AsyncKernelManager):
    """The ipykernel of the running interpreter, whatever 'python3' kernelspec a user installed."""

    @property
    def kernel_spec(self):
        return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())


def output_texts(nb):
    """Every text a reader sees in the outputs (images and other binary data are skipped)."""
    for cell in nb.cells:
        for out in cell.get('outputs', []):
            if out.output_type == 'stream':
                yield out.text
            elif out.output_type == 'error':
                yield '\n'.join(out.traceback)
            else:
                yield from (v for k, v in out.get('data', {}).items() if k.startswith('text/'))


def final_test_acc(nb):
    """Final test accuracy of the notebook's first training run, the model it teaches (a
    control run may follow), from its `loss ..., train acc ..., test acc ...` line; or None."""
    found = ACC_LINE.findall('\n'.join(output_texts(nb)))
    return float(found[0]) if found else None


def machine_paths(nb, roots):
    """Those of `roots` (absolute paths of this machine) that the outputs mention."""
    text = '\n'.join(output_texts(nb))
    return sorted(r for r in map(str, roots) if r != os.sep and r in text)


def run_one(path, out_dir, timeout, in_place, roots):
    """Execute one notebook and write its results; return (seconds, test acc, error or None)."""
    nb = nbformat.read(path, as_version=4)
    running = {}
    client = NotebookClient(
        nb, timeout=timeout, kernel_name='python3', kernel_manager_class=CurrentEnvKernel,
        store_widget_state=False, record_timing=False,
        resources={'metadata': {'path': str(path.parent)}},  # cwd as in Jupyter
        on_cell_start=lambda cell, cell_index: running.update(cell=cell, index=cell_index))
    env = dict(os.environ)
    env.setdefault('D2LMINI_MODE', 'reduced')
    error, tik = None, time.perf_counter()
    try:
        client.execute(env=env, transport_encryption='auto')  # CurveZMQ, as ipykernel asks
    # A failing cell, a timeout or a dead kernel is reported, and the other notebooks still run.
    except (CellControlSignal, RuntimeError, TimeoutError) as exc:
        what = (f'{exc.ename}: {exc.evalue}' if hasattr(exc, 'ename')
                else f'{type(exc).__name__}: {exc}'.splitlines()[0])
        where = 'before the first cell'
        if running:
            first = (running['cell'].source.strip().splitlines() or [''])[0][:60]
            where = f'in cell {running["index"] + 1} ({first!r})'
        error = f'failed {where}: {what}'
    seconds = time.perf_counter() - tik
    nb.metadata.pop('widgets', None)
    out = out_dir / path.parent.name / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    out.with_suffix('.html').write_text(HTMLExporter().from_notebook_node(nb)[0], encoding='utf-8')
    if in_place and error is None:
        leaked = machine_paths(nb, roots)
        if leaked:
            error = (f'was not stored: its outputs mention {", ".join(leaked)}; make the notebook '
                     f'print relative paths (see {out})')
        else:
            nbformat.write(nb, path)
    return seconds, final_test_acc(nb), error


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tools.runbook',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('src', type=Path, help='folder of <framework>/<topic>.ipynb notebooks')
    parser.add_argument('out', type=Path, help='folder for the executed notebooks and HTML')
    parser.add_argument('--in-place', action='store_true',
                        help='also store the outputs in the source notebooks')
    parser.add_argument('--timeout', type=int, default=600, help='seconds allowed per cell')
    args = parser.parse_args(argv)
    if not args.src.is_dir():
        parser.error(f'no folder {args.src}: give the folder that holds <framework>/*.ipynb')
    paths = sorted(p for p in args.src.glob('*/*.ipynb') if not p.parent.name.startswith('.'))
    if not paths:
        print(f'no notebooks yet in {args.src}/<framework>/: nothing to run')
        return 0
    roots = {Path.home(), REPO, args.src.resolve().parent}
    rows, failed = [], []
    problem = mxnet_problem()
    for path in paths:
        name = f'{path.parent.name}/{path.name}'
        if path.parent.name == 'mxnet' and problem:
            print(f'skipped {name}: {problem}', flush=True)
            rows.append((path.stem, path.parent.name, '-', 'skipped'))
            continue
        print(f'running {name} ...', flush=True)
        seconds, acc, error = run_one(path, args.out, args.timeout, args.in_place, roots)
        if error:
            failed.append(f'{name} {error}')
            print(failed[-1], flush=True)
        shown = 'FAILED' if error else '-' if acc is None else f'{acc:.3f}'
        rows.append((path.stem, path.parent.name, f'{seconds:.1f}', shown))
    header = ('notebook', 'framework', 'seconds', 'test acc')
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print('  '.join(c.ljust(w) if i < 2 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))
    print(f'executed notebooks and HTML are in {args.out}/')
    if failed:
        print(f'{len(failed)} of {len(paths)} notebooks failed:', *failed, sep='\n  ')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
