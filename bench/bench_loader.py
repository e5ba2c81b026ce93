"""How fast the loader refuses hostile files, against loading the valid spec they are built from.

Each row times `load_spec` on one hostile file (median of several runs) and divides by the time
to load the valid example spec in the same run, so the ratio says what a refusal costs compared
with an ordinary load. Without the limits, the 9-level alias bomb expands to 9^9 (387 million)
nodes and the 60 MB file is read and parsed whole; with them both are refused before any node is
built or any byte past the cap is read.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from drkit.core.errors import SpecError
from drkit.core.spec import load_spec
from tests.conftest import EXAMPLES

RUNS = 7


def _bomb(levels: int) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _cases(tmp: Path) -> dict[str, Path]:
    valid = (EXAMPLES / "fraud-tier1.yaml").read_text()
    texts = {
        "alias bomb, 9 levels (9^9 nodes)": _bomb(9),
        "deep nesting, 100,000 levels": "x: " + "[" * 100_000 + "]" * 100_000,
        "duplicate key at the end": valid + "tier: 1\n",
        "NaN in a field": valid + "weird: .nan\n",
        "5000-digit integer": valid + "weird: " + "9" * 5000 + "\n",
        "non-UTF-8 byte at the end": valid + "\udcff",
    }
    out = {}
    for name, text in texts.items():
        path = tmp / f"{len(out)}.yaml"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        out[name] = path
    huge = tmp / "huge.yaml"
    with open(huge, "wb") as fh:
        fh.truncate(60 * 1024 * 1024)
    out["60 MB file"] = huge
    fifo = tmp / "fifo.yaml"
    os.mkfifo(fifo)
    out["FIFO (would block a plain open)"] = fifo
    out["/dev/zero (endless)"] = Path("/dev/zero")
    return out


def _median(run: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        with contextlib.suppress(SpecError):
            run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    baseline = _median(lambda: load_spec(EXAMPLES / "fraud-tier1.yaml"))
    print(f"valid spec (fraud-tier1.yaml) loads in {baseline * 1000:.2f} ms (median of {RUNS})")
    print(f"{'hostile file':<36} {'refused in':>12} {'× valid load':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in _cases(Path(tmp)).items():
            seconds = _median(lambda p=path: load_spec(p))
            print(f"{name:<36} {seconds * 1000:>9.2f} ms {seconds / baseline:>12.2f}×")


if __name__ == "__main__":
    main()
