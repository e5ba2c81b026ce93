"""What a Lambda bundle carries from drkit: its handler code plus a minimal `drkit.core`.

The handlers import a few core modules (each stdlib + boto3 only; tests parse their
imports), so a bundle ships those and the two package markers, never the rest of drkit.
Sources are found through the imported packages, so the same code builds a bundle from a
checkout and from an installed wheel.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import drkit
import drkit.core

DRKIT_PACKAGE = Path(drkit.__file__).resolve().parent
CORE_PACKAGE = Path(drkit.core.__file__).resolve().parent
FUNCTIONS = Path(__file__).resolve().parent / "functions"


def core_modules(modules: Iterable[str]) -> dict[str, Path]:
    """Archive path → source file of `drkit/__init__.py`, `drkit/core/__init__.py` and `modules` of the core."""
    files = {"drkit/__init__.py": DRKIT_PACKAGE / "__init__.py", "drkit/core/__init__.py": CORE_PACKAGE / "__init__.py"}
    files.update({f"drkit/core/{name}": CORE_PACKAGE / name for name in modules})
    return files
