"""The CLI behaves like the tools people know: data alone on stdout, a closed pipe is quiet,
`--version`, documented options and exit codes, tables that fit 80 columns."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import drkit
import drkit.cli
from bench.bench_preview import SIZES as BENCH_SIZES
from bench.bench_preview import synthetic_spec
from drkit.cli import build_parser, main
from drkit.commands.console import make_console
from drkit.commands.preview.command import summary_table
from tests.conftest import EXAMPLES, ROOT, example_graph

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
TIER1 = str(EXAMPLES / "fraud-tier1.yaml")
TIER3 = str(EXAMPLES / "docs-tier3.yaml")


def drkit_cli(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drkit", *argv], capture_output=True, text=True, cwd=cwd, check=False)


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("drkit",)) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield " ".join(path), action


@pytest.mark.parametrize(
    ("argv", "parse"),
    [
        (["preview", TIER3, "--region", "us-west-2", "--json"], json.loads),
        (["route", "--spec", TIER1, "--payload-bytes", "7MiB", "--class", "authorisation", "--json"], json.loads),
        (["route", "--spec", TIER1, "--asl"], json.loads),
        (["check", TIER3, "--format", "json"], json.loads),
        (["check", TIER3, "--format", "sarif"], lambda out: jsonschema.validate(json.loads(out), SARIF_SCHEMA)),
        (["cost", TIER3, "--json"], json.loads),
        (["redrive", "--from-region", "us-east-2", "--to-region", "us-west-2", "--deployment-spec", TIER3, "--plan", "--json"], json.loads),
        (["drill", "run", TIER1, "--scenario", "health-check-failover", "--backend", "aws", "--plan", "--json"], json.loads),
        (["preflight", TIER1, "--region", "us-west-2", "--plan", "--json"], json.loads),
    ],
    ids=["preview", "route", "asl", "check-json", "check-sarif", "cost", "redrive-plan", "drill-plan", "preflight-plan"],
)
def test_machine_output_is_the_only_thing_on_stdout(argv: list[str], parse: object) -> None:
    result = drkit_cli(*argv)
    assert result.returncode == 0, result.stderr
    parse(result.stdout)  # type: ignore[operator]
    assert "Traceback" not in result.stderr


def test_a_sim_drill_prints_its_progress_on_stderr_and_only_the_report_on_stdout(tmp_path: Path) -> None:
    result = drkit_cli("drill", "run", TIER1, "--scenario", "health-check-failover", "--in-flight", "20", "--workdir", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scenario"] == "health-check-failover"
    assert "drill health-check-failover on fraud-tier1 (sim)" in result.stderr


def test_a_closed_pipe_ends_quietly() -> None:
    """`drkit preview … --json | head -1`: the reader leaves after one line of a large document."""
    process = subprocess.Popen(
        [sys.executable, "-m", "drkit", "preview", TIER1, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().strip() == b"{"
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def _children_of(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()] if tasks.exists() else []


def _wait_for(condition: Callable[[], object], seconds: float = 6.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def _pack_started_by(process: subprocess.Popen[Any]) -> list[int]:
    _wait_for(lambda: _children_of(process.pid))
    children = _children_of(process.pid)
    assert children, "the policy pack did not start"
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from Linux's /proc")
def test_ctrl_c_ends_a_check_at_once_with_130_and_its_policy_pack_with_it() -> None:
    """Interrupting a capture used to be lost in a finalizer (the check went on and exited 0) or
    swallowed by Pulumi's event loop (the check hung); now it ends the process and the pack."""
    process = subprocess.Popen(
        [sys.executable, "-m", "drkit", "check", TIER1], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    children = _pack_started_by(process)  # the pack starts once the handler is in place and before the capture
    time.sleep(0.3)  # inside the capture
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert (process.returncode, stdout) == (130, b""), stderr.decode()
    assert stderr.decode().splitlines()[-1] == "drkit: interrupted" and b"Traceback" not in stderr
    assert not any(_alive(child) for child in children)


def _listening(pid: int) -> bool:
    """True once `pid` holds a listening TCP socket (the pack's gRPC server)."""
    try:
        sockets = {os.readlink(fd)[8:-1] for fd in Path(f"/proc/{pid}/fd").iterdir() if os.readlink(fd).startswith("socket:[")}
    except OSError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in sockets:  # 0A: LISTEN
                return True
    return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from Linux's /proc")
def test_a_killed_check_does_not_leave_its_policy_pack_running() -> None:
    process = subprocess.Popen([sys.executable, "-m", "drkit", "check", TIER1], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    children = _pack_started_by(process)
    _wait_for(lambda: _listening(children[0]))  # killed while it starts, the pack dies writing its port to a closed pipe anyway
    process.kill()
    process.wait(timeout=30)
    _wait_for(lambda: not any(_alive(child) for child in children), seconds=10)  # it looks for its parent every 0.5 s
    assert not any(_alive(child) for child in children)


FINALIZER_PROGRAM = """
import gc, sys, time
from drkit.commands import interrupt
if sys.argv[1] == "drkit":
    interrupt.stop_at_once()
class Slow:
    def __del__(self):
        print("in finalizer", flush=True)
        time.sleep(3)
a = Slow(); b = Slow(); a.other, b.other = b, a  # a cycle: freed by the collector, as Pulumi's objects are
del a, b
gc.collect()
print("finished", flush=True)
"""


@pytest.mark.parametrize(("handler", "code", "finished"), [("python", 0, True), ("drkit", 130, False)])
def test_ctrl_c_inside_a_finalizer_is_lost_to_python_but_not_to_drkit(handler: str, code: int, finished: bool) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", FINALIZER_PROGRAM, handler], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "in finalizer"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == code, stderr
    assert ("finished" in stdout) is finished  # Python prints "Exception ignored in ... __del__" and goes on
    assert finished or stderr.splitlines()[-1] == "drkit: interrupted"


def test_a_drkit_started_with_ctrl_c_ignored_keeps_ignoring_it() -> None:
    """`drkit check … &` in a script starts with SIGINT ignored; Ctrl-C meant for the script must not end it."""
    program = "import sys, time\nfrom drkit.commands import interrupt\ninterrupt.stop_at_once()\nprint('ready', flush=True)\ntime.sleep(30)\n"
    process = subprocess.Popen(  # `trap "" INT` ignores SIGINT, and exec hands that on as a shell's `&` does
        ["sh", "-c", 'trap "" INT; exec "$0" -c "$1"', sys.executable, program], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=1)
    process.kill()
    process.wait()


def test_version_answers_with_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"drkit {drkit.__version__}"


def test_help_documents_the_exit_codes() -> None:
    text = build_parser().format_help()
    for code, meaning in (("0", "success"), ("1", "findings"), ("2", "bad input")):
        assert any(line.split()[:2] == [code, meaning] or line.strip().startswith(f"{code}    {meaning}") for line in text.splitlines()), code


def test_every_option_has_help_and_names_its_default() -> None:
    for command, action in _options(build_parser()):
        assert action.help, f"{command} {action.option_strings or action.dest}: no help"
        if action.default not in (None, False):
            assert "default" in action.help.lower(), f"{command} {action.option_strings}: help does not name its default {action.default!r}"


def test_a_command_imports_only_its_own_module() -> None:
    """`drkit route` must not pay for the drill engine or Pulumi: only the named command is loaded."""
    code = (
        "import sys; from drkit.cli import build_parser; build_parser(['route', '--help-not-parsed']); "
        "print(sorted(m for m in sys.modules if m.startswith(('drkit.commands.', 'pulumi_aws', 'pulumi_policy'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert "drkit.commands.route.command" in loaded
    for other in ("drkit.commands.drill", "drkit.commands.check", "drkit.commands.preflight", "pulumi_policy"):
        assert other not in loaded
    # With no command named, or drkit's own help asked for first (`drkit -h check`), every command is listed.
    for top_level in ([], ["-h", "check"], ["--help", "route"]):
        listed = next(a for a in build_parser(top_level)._actions if isinstance(a, argparse._SubParsersAction)).choices
        assert set(listed) == set(drkit.cli.COMMANDS), top_level


def test_route_without_spec_outside_a_checkout_names_the_flag(tmp_path: Path) -> None:
    result = drkit_cli("route", "--payload-bytes", "1", "--class", "authorisation", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"drkit: error: --spec: not given, and the default stacks/examples/fraud-tier1.yaml is not under {tmp_path};"
        " pass --spec PATH/TO/SPEC.yaml"
    )


@pytest.mark.parametrize("name", ["fraud-tier1", "search-tier2", "docs-tier3"])
def test_the_summary_table_fits_80_columns_without_truncating(name: str) -> None:
    console = make_console(80)
    with console.capture() as captured:
        console.print(summary_table(example_graph(name)))
    text = captured.get()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_an_unknown_benchmark_is_refused() -> None:
    result = subprocess.run([sys.executable, "-m", "bench", "nonsense"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("bench: unknown benchmark 'nonsense'; valid: bench_check")


@pytest.mark.parametrize(
    ("page", "path"),
    [("spec", "docs/spec-reference.md"), ("policies", "docs/policy-reference.md"), ("taggable", "policies/taggable.json")],
)
def test_the_generated_reference_pages_are_current(page: str, path: str) -> None:
    result = drkit_cli("reference", page)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / path).read_text(), f"{path} is stale: run `drkit reference {page} > {path}`"


def test_ctrl_c_during_a_rollback_is_held_off_until_it_is_done(capsys: pytest.CaptureFixture[str]) -> None:
    from drkit.commands import interrupt

    before = signal.getsignal(signal.SIGINT)
    with interrupt.held("rolling back"):
        os.kill(os.getpid(), signal.SIGINT)  # delivered at the next bytecode: no KeyboardInterrupt here
        time.sleep(0.01)
    assert signal.getsignal(signal.SIGINT) is before
    assert capsys.readouterr().err == "drkit: rolling back\n"


@pytest.mark.parametrize(("regions", "models"), [*BENCH_SIZES, (2, 200)])
def test_the_benchmarks_synthetic_specs_are_valid_specs(regions: int, models: int) -> None:
    """bench_check's 2 x 200 spec once gave 200 models a router, which takes 20 (the bench then failed)."""
    spec = synthetic_spec(regions, models)
    assert (len(spec.regions), len(spec.models)) == (max(regions, 2), models)
