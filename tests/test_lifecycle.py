"""RequestLifecycle: completion and redrive Lambdas, their wiring, their packages and the redrive handler on moto."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from drkit.components.bundle import core_modules
from drkit.components.lifecycle import FUNCTIONS, SHARED_MODULES
from drkit.components.workflow import transform_job_prefix
from drkit.core.tokens import Status, TokenStore
from drkit.engine.graph import RegionGraph
from tests.conftest import create_token_table, example_graph

FUNCTION = "aws:lambda/function:Function"


def lifecycle(graph: RegionGraph) -> list[Any]:
    return [r for r in graph.resources if "drkit:workflow:RequestLifecycle$" in r.urn]


def test_every_region_deploys_both_functions_with_their_code() -> None:
    for graph in example_graph("search-tier2"):
        functions = {r.inputs["name"]: r for r in lifecycle(graph) if r.type == FUNCTION}
        assert sorted(functions) == ["drkit-search-tier2-completion", "drkit-search-tier2-redrive"]
        for function in functions.values():
            archive = function.inputs["code"]["archive"]
            assert sorted(archive) == ["drkit/__init__.py", "drkit/core/__init__.py", "drkit/core/errors.py", "drkit/core/redrive.py", "drkit/core/tokens.py", "handler.py"]
            assert archive["drkit/core/tokens.py"]["path"] == "drkit/core/tokens.py" and archive["drkit/core/tokens.py"]["sha256"]
        redrive = functions["drkit-search-tier2-redrive"].inputs["environment"]["variables"]
        assert redrive["PEER_REGIONS"] == ",".join(r for r in ("eu-west-1", "eu-central-1") if r != graph.region)
        assert redrive["STATE_MACHINE_ARN"] == graph.exports["workflow_arn"]


def test_completion_hears_every_async_topic_and_transform_job_events() -> None:
    graph = example_graph("search-tier2").primary
    topics = {r.outputs["arn"] for r in graph.of_type("aws:sns/topic:Topic")}
    subscriptions = [r for r in lifecycle(graph) if r.type == "aws:sns/topicSubscription:TopicSubscription"]
    assert {s.inputs["topic"] for s in subscriptions} == topics and len(topics) == 2  # query-embed async: success + error
    assert all(s.inputs["protocol"] == "lambda" for s in subscriptions)
    (rule,) = [r for r in lifecycle(graph) if r.type == "aws:cloudwatch/eventRule:EventRule"]
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail-type"] == ["SageMaker Transform Job State Change"]
    # this deployment's jobs only, named as its workflow names them
    (machine,) = graph.of_type("aws:sfn/stateMachine:StateMachine")
    job_name = json.loads(machine.inputs["definition"])["States"]["StartTransform"]["Parameters"]["TransformJobName.$"]
    assert pattern["detail"]["TransformJobName"] == [{"prefix": f"{transform_job_prefix('search-tier2')}-"}]
    assert job_name.startswith(f"States.Format('{transform_job_prefix('search-tier2')}-")


def test_redrive_may_start_executions_only_on_this_regions_workflow() -> None:
    graph = example_graph("search-tier2")["eu-central-1"]
    (policy,) = [r for r in lifecycle(graph) if r.type == "aws:iam/rolePolicy:RolePolicy" and "redrive" in r.name]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["StartExecutions"]["Resource"] == [graph.exports["workflow_arn"]]
    assert statements["StartExecutions"]["Action"] == ["states:StartExecution"]


@pytest.mark.parametrize("handler_dir", ["completion", "redrive"])
def test_the_lambda_package_imports_without_pulumi_or_pydantic(tmp_path: Path, handler_dir: str) -> None:
    shutil.copy(FUNCTIONS / handler_dir / "handler.py", tmp_path / "handler.py")
    for archive_path, source in core_modules(SHARED_MODULES).items():
        (tmp_path / archive_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, tmp_path / archive_path)
    probe = "import sys, handler; bad = sorted(m for m in ('pulumi', 'pydantic', 'yaml', 'rich') if m in sys.modules); print(bad)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def load_redrive_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("redrive_handler", FUNCTIONS / "redrive" / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_redrive_handler_restarts_a_lost_regions_requests_once(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = load_redrive_handler()
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_REGION", "eu-central-1")):
        monkeypatch.setenv(key, value)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-central-1")
        create_token_table(dynamodb, "tokens")
        sfn = boto3.client("stepfunctions", region_name="eu-central-1")
        arn = sfn.create_state_machine(
            name="wf",
            definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/r",
        )["stateMachineArn"]
        store = TokenStore("tokens", dynamodb)
        for i in range(5):
            store.record(f"req-{i}", "eu-west-1", "async", "m", f"s3://in/{i}", ttl_seconds=3600)
        monkeypatch.setenv("TABLE_NAME", "tokens")
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        monkeypatch.setenv("PEER_REGIONS", "eu-west-1")
        first = handler.handler({}, None)
        second = handler.handler({"lost_region": "eu-west-1"}, None)
        assert (first["found"], first["started"], first["lost_region"]) == (5, 5, "eu-west-1")
        assert (second["started"], second["already_done"]) == (0, 5)
        assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 5
        assert {store.get(f"req-{i}").status for i in range(5)} == {Status.REDRIVEN}
        with pytest.raises(handler.RedriveRequestError, match="not one of this deployment's other regions: eu-west-1"):
            handler.handler({"lost_region": "us-east-1"}, None)


def test_completion_keeps_events_that_fail_every_retry_in_an_encrypted_queue_it_may_write() -> None:
    graph = example_graph("search-tier2").primary
    (queue,) = [r for r in lifecycle(graph) if r.type == "aws:sqs/queue:Queue"]
    (config,) = [r for r in lifecycle(graph) if r.type == "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"]
    assert config.inputs["functionName"] == "drkit-search-tier2-completion"
    assert config.inputs["destinationConfig"]["onFailure"]["destination"] == queue.outputs["arn"]
    assert queue.inputs["kmsMasterKeyId"] and queue.inputs["messageRetentionSeconds"] == 14 * 24 * 3600
    (policy,) = [r for r in lifecycle(graph) if r.type == "aws:iam/rolePolicy:RolePolicy" and "completion" in r.name]
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert statements["ReportFailures"] == {"Sid": "ReportFailures", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [queue.outputs["arn"]]}
    # the queue's key is one the function may use (Lambda encrypts the record it sends)
    assert queue.inputs["kmsMasterKeyId"] in statements["TableKey"]["Resource"]
