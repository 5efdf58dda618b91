"""``make bench``: seed PostgreSQL once, then run every bench module in this folder.

A bench module is any ``bench/<name>.py`` (other than this file and ``common.py``) that
defines ``run(context)``. ``--only NAME`` runs one of them. Every bench runs with
production settings (``DEBUG`` off), set by ``common.configure_django``.

Sizes: 100,000 services and 5,000 customers by default; the issue's million with
``make bench BENCH_ARGS="--services 1000000 --customers 50000"`` (seeded once, about 5 to 8
minutes on this machine; use a database of its own, ``DATABASE_URL=...``, since seeding
only ever adds rows).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

SKIPPED = {"common", "run", "settings", "admin_urls"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="run only this bench module (e.g. list_views)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measure")
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=5_000)
    args = parser.parse_args()

    common.configure_django()
    context = common.BenchContext(runs=args.runs, services=args.services, customers=args.customers)
    common.prepare_data(context)
    folder = str(Path(__file__).resolve().parent)
    names = sorted(m.name for m in pkgutil.iter_modules([folder]) if m.name not in SKIPPED)
    if args.only:
        if args.only not in names:
            raise SystemExit(f"No bench module {args.only!r}; there are: {', '.join(names)}.")
        names = [args.only]
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if hasattr(module, "run"):
            module.run(context)


if __name__ == "__main__":
    main()
