"""Execute the notebooks in order, writing executed copies (the committed ones stay stripped).

    python scripts/run_notebooks.py                 # into outputs/notebooks/
    SMA_NOTEBOOK_N_PATIENTS=500 python scripts/run_notebooks.py --out /tmp/nb

The notebooks share one work folder (``SMA_NOTEBOOK_WORKDIR``, default
``outputs/notebooks/work``): 02 and 03 reuse the quickstart's run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"


def main() -> int:
    """Execute every notebook; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "notebooks")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SMA_NOTEBOOK_WORKDIR", str(args.out / "work"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    for path in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb")):
        print(f">>> {path.name}", flush=True)
        book = nbformat.read(path, as_version=4)
        client = NotebookClient(
            book,
            timeout=1800,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
        )
        try:
            client.execute()
        except Exception as err:  # a failing cell: say which notebook, keep what ran
            nbformat.write(book, args.out / path.name)
            print(f"{path.name} failed: {err}", file=sys.stderr)
            return 1
        nbformat.write(book, args.out / path.name)
    print(f"executed notebooks in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
