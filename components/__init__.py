"""drkit's Pulumi components: one concern per module, each a `pulumi.ComponentResource`."""

from components.alarms import EndpointAlarms, EndpointAlarmsArgs
from components.artifacts import ModelArtifactStore, ModelArtifactStoreArgs
from components.encryption import RegionalKey, RegionalKeyArgs
from components.endpoint import InferenceMode, RegionalInferenceEndpoint, RegionalInferenceEndpointArgs
from components.failover import RegionalFailoverRecord, RegionalFailoverRecordArgs
from components.table import TaskTokenTable, TaskTokenTableArgs

__all__ = [
    "EndpointAlarms",
    "EndpointAlarmsArgs",
    "InferenceMode",
    "ModelArtifactStore",
    "ModelArtifactStoreArgs",
    "RegionalFailoverRecord",
    "RegionalFailoverRecordArgs",
    "RegionalInferenceEndpoint",
    "RegionalInferenceEndpointArgs",
    "RegionalKey",
    "RegionalKeyArgs",
    "TaskTokenTable",
    "TaskTokenTableArgs",
]
