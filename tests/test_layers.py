"""The layers point down only, and the installed distribution claims only the name `drkit`.

The contracts live in pyproject.toml ([tool.importlinter]); import-linter checks them on the
real import graph. The wheel tests build drkit the way `pip install` would and run it from
a fresh virtualenv, outside the checkout and inside it (where the local `drkit/` folder is
first on sys.path).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXEMPTION_KEYS = {"ignore_imports", "unmatched_ignore_imports_alerting", "allow_indirect_imports"}


def test_the_layer_contracts_hold() -> None:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0
    finally:
        os.chdir(cwd)


def test_the_contracts_have_no_exemptions_and_cover_every_top_level_package() -> None:
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    for contract in contracts:
        assert not EXEMPTION_KEYS & contract.keys(), f"contract {contract['name']!r} has an exemption"
    (layers,) = [c for c in contracts if c["type"] == "layers"]
    packages = {f"drkit.{p.name}" for p in (ROOT / "drkit").iterdir() if (p / "__init__.py").exists()}
    modules = {f"drkit.{p.stem}" for p in (ROOT / "drkit").glob("*.py") if not p.name.startswith("__")}
    assert packages | modules == set(layers["layers"])


def test_components_stacks_and_policies_are_the_checkout_folders_under_drkits_name() -> None:
    import drkit.components
    import drkit.policies
    import drkit.stacks

    for module, folder in ((drkit.components, "components"), (drkit.stacks, "stacks"), (drkit.policies, "policies")):
        assert Path(module.__file__).resolve().parent == ROOT / folder
    assert "components" not in sys.modules and "stacks" not in sys.modules and "policies" not in sys.modules


# --- the built wheel, installed into a fresh virtualenv -------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a clean copy: a checkout's build/ may hold stale modules from earlier builds.
    source = tmp_path_factory.mktemp("source")
    for name in ("drkit", "components", "stacks", "policies"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("drkit-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with only the wheel installed; its dependencies come from this one's site-packages."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True)
    # Dependencies only: a .pth line adds the directory but runs none of its .pth files (so not our editable install).
    (Path(site.stdout.strip()) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)], check=True, capture_output=True)
    return python


def test_the_wheel_holds_only_the_drkit_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"drkit", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for needed in (
        "drkit/policies/PulumiPolicy.yaml",
        "drkit/policies/policy-config.json",
        "drkit/stacks/examples/fraud-tier1.yaml",
        "drkit/stacks/examples/usage/fraud-tier1.yaml",
        "drkit/components/functions/router/handler.py",
    ):
        assert needed in names


def _installed(python: Path, cwd: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-c", code], cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})


def test_the_installed_wheel_runs_preview_and_check_outside_the_checkout(wheel_python: Path, tmp_path: Path) -> None:
    where = _installed(wheel_python, tmp_path, "import drkit, pathlib; print(pathlib.Path(drkit.__file__).parent)")
    package = Path(where.stdout.strip())
    assert package.parent != ROOT and package.is_dir(), where.stderr
    example = package / "stacks" / "examples" / "fraud-tier1.yaml"
    drkit = [wheel_python, "-m", "drkit"]
    preview = subprocess.run([*drkit, "preview", str(example), "--json"], cwd=tmp_path, capture_output=True, text=True)
    assert preview.returncode == 0, preview.stderr
    assert {r["region"] for r in json.loads(preview.stdout)["regions"]} == {"us-east-1", "us-west-2", "eu-west-1"}
    check = subprocess.run(
        [*drkit, "check", str(example), "--format", "json", "--policy-pack-config", str(package / "policies" / "policy-config.json")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    assert report["passed"] and report["policies"], "the pack started from site-packages answered with its policies"


def test_the_installed_wheel_imports_from_the_checkout_root(wheel_python: Path) -> None:
    """From the repo root the local drkit/ folder shadows the wheel: its symlinks keep every layer there."""
    result = _installed(wheel_python, ROOT, "import drkit.components.frontdoor, drkit.stacks.program, drkit.policies.registry, drkit.cli; print(drkit.__file__)")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve().parent == ROOT / "drkit"
