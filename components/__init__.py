"""drkit's Pulumi components: one concern per module, each a `pulumi.ComponentResource`."""

from drkit.components.alarms import EndpointAlarms, EndpointAlarmsArgs
from drkit.components.artifacts import ModelArtifactStore, ModelArtifactStoreArgs
from drkit.components.encryption import RegionalKey, RegionalKeyArgs
from drkit.components.endpoint import InferenceMode, RegionalInferenceEndpoint, RegionalInferenceEndpointArgs
from drkit.components.failover import RegionalFailoverRecord, RegionalFailoverRecordArgs
from drkit.components.table import TaskTokenTable, TaskTokenTableArgs

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
