"""Run the benchmark modules in bench/ (each exposes `main()`): all of them, or those named.

    python -m bench                      every benchmark
    python -m bench bench_check ...      only these (an unknown name is refused, exit 2)
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from drkit.core import batch_gc


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main(argv: list[str]) -> int:
    names = available()
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__.strip() + "\n\nbenchmarks: " + ", ".join(names))
        return 0
    unknown = [arg for arg in argv if arg not in names]
    if unknown:
        print(f"bench: unknown benchmark {', '.join(map(repr, unknown))}; valid: {', '.join(names)}", file=sys.stderr)
        return 2
    for name in argv or names:
        print(f"== {name}")
        importlib.import_module(f"bench.{name}").main()
        print()
    return 0


if __name__ == "__main__":
    batch_gc.for_batch()  # in-process timings under the collector setting drkit's own processes use
    sys.exit(main(sys.argv[1:]))
