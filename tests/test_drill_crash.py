"""Crash safety: SIGKILL the drill process after each step in turn; `recover` puts the account back.

The drills run as real subprocesses (`python -m drkit drill run ... --crash-after STEP`,
which SIGKILLs itself right after the step's journal record), all at once so the set
stays fast; `recover` runs afterwards in a fresh backend that reads the same
on-disk simulated account.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from drkit.cli import main
from drkit.commands.drill.backends.sim import ACCOUNT_FILE, SimBackend, initial_account
from drkit.commands.drill.engine import STEPS, recover
from drkit.commands.drill.journal import Journal
from drkit.commands.drill.topology import topology_of
from tests.conftest import ROOT, example_graph

SPEC = ROOT / "stacks" / "examples" / "docs-tier3.yaml"


def test_sigkill_after_each_step_then_recover_restores_the_pre_drill_snapshot(tmp_path):
    pre_drill = initial_account(topology_of(example_graph("docs-tier3")))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {}
    for step in STEPS:
        workdir = tmp_path / step
        procs[step] = subprocess.Popen(
            [sys.executable, "-m", "drkit", "drill", "run", str(SPEC), "--scenario", "region-outage",
             "--workdir", str(workdir), "--in-flight", "200", "--crash-after", step],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    for step, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, f"{step}: exit {proc.returncode}: {err}"
        workdir = tmp_path / step
        journal = Journal(workdir)
        assert journal.open_drill()[-1] == {**journal.open_drill()[-1], "kind": "step", "step": step}
        if step in ("inject", "observe", "verify"):
            # Killed mid-drill: the on-disk account really is broken until recover runs.
            assert json.loads((workdir / ACCOUNT_FILE).read_text())["outages"] == ["us-east-2"]
        if step == "inject":  # once through the command line, as a person would
            assert main(["drill", "recover", "--workdir", str(workdir)]) == 0
            assert journal.open_drill() == []
        backend = SimBackend(workdir)
        try:
            undone = recover(workdir, backend) if step != "inject" else ["(by the CLI)"]
            assert undone, step
            assert backend.state() == pre_drill, step
            assert recover(workdir, backend) == [], f"{step}: recover is not idempotent"
        finally:
            backend.close()
        assert journal.open_drill() == []
        assert Path(workdir / ACCOUNT_FILE).exists()
