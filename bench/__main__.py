"""Run every benchmark module in bench/ (each exposes `main()`) and print its report."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    only = set(sys.argv[1:])
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if not info.name.startswith("bench_") or (only and info.name not in only):
            continue
        print(f"== {info.name}")
        importlib.import_module(f"bench.{info.name}").main()
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
