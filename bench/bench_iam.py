"""What the IAM rules add to `drkit check` of the 3-region example.

The pack runs once; the same three captured stacks are checked alternately with the four IAM
policies disabled and enabled (min of 10 each, interleaved so machine load hits both alike).
Separately: loading the IAM action database (once per pack process) and the lint + access
contract in-process.
"""

from __future__ import annotations

import json
import time

from drkit.commands.check.analyzer import PolicyPackProcess
from drkit.commands.check.run import DEFAULT_PACK_DIR, check_stacks
from drkit.engine.access import Node, denials
from drkit.engine.iam_actions import lint_document
from tests.conftest import example_graph

IAM_POLICIES = ("iam-actions-exist", "iam-action-resource-types", "iam-log-stream-arns", "access-contract-allows")
REPEATS = 10


def main() -> None:
    graphs = list(example_graph("fraud-tier1"))
    start = time.perf_counter()
    lint_document({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    database = time.perf_counter() - start
    start = time.perf_counter()
    for graph in graphs:
        for resource in graph.resources:
            value = resource.inputs.get("policy")
            if isinstance(value, str) and value.startswith("{"):
                lint_document(json.loads(value))
        denials([Node(r.type, r.name, r.inputs, r.region) for r in graph.custom_resources], graph.region)
    in_process = time.perf_counter() - start

    disabled = {name: "disabled" for name in IAM_POLICIES}
    with PolicyPackProcess(DEFAULT_PACK_DIR) as pack:
        check_stacks(pack, graphs, config={})  # warm: imports and the database in the pack process
        without, with_ = [], []
        for _ in range(REPEATS):
            for config, times in ((disabled, without), ({}, with_)):
                start = time.perf_counter()
                check_stacks(pack, graphs, config=config)
                times.append(time.perf_counter() - start)
    print(f"IAM action database load: {database:.3f} s (once per process)")
    print(f"lint + access contract of fraud-tier1's 3 stacks, in process: {in_process:.3f} s")
    print(
        f"fraud-tier1 check, pack running (min of {REPEATS}): without IAM rules {min(without):.3f} s, "
        f"with {min(with_):.3f} s, ratio {min(with_) / min(without):.2f}"
    )
