"""Usage profile: the traffic a deployment's usage-based resources are priced for (Infracost's usage file).

```yaml
requests_per_hour: [200, 150, ..., 1800]   # 24 values, the deployment's whole traffic, hour 0 first
weekend_factor: 0.5                         # Saturday and Sunday traffic as a share of weekdays
traffic_mix: {critical: 0.6, standard: 0.3, bulk: 0.1}   # by TrafficKind; shares sum to 1
model_mix: {fraud-xgb: 1.0}                 # optional; default: an equal split
mean_payload_kb: 16
invocation_seconds: {provisioned: 0.05, serverless: 0.2, async: 20}
table_gb: 1
model_data_gb: 2
image_gb: 5                                 # each model's container image, stored in every region's ECR
releases_per_month: 1                       # new model versions: each is replicated to every region
```

`pulumi preview --policy-pack-config` hands the policy pack values, not paths, so the same
fields can be given inline in the policy config (`usage_from_data`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drkit.core.errors import SpecError
from drkit.core.loader import load_yaml
from drkit.core.validation import problems


class InvocationSeconds(BaseModel):
    """Mean model time per request on each path."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    provisioned: float = Field(default=0.05, gt=0, le=60)
    serverless: float = Field(default=0.2, gt=0, le=60)
    async_: float = Field(default=20.0, gt=0, le=3600, alias="async")


class UsageProfile(BaseModel):
    """Traffic over a typical day, and how it splits."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)
    requests_per_hour: tuple[float, ...] = Field(default=(1000.0,) * 24, description="24 hourly request rates.")
    weekend_factor: float = Field(default=1.0, ge=0, le=10)
    traffic_mix: dict[str, float] = Field(default_factory=lambda: {"critical": 0.6, "standard": 0.3, "bulk": 0.1})
    model_mix: dict[str, float] | None = None
    mean_payload_kb: float = Field(default=16, gt=0, le=1_048_576)
    invocation_seconds: InvocationSeconds = InvocationSeconds()
    table_gb: float = Field(default=1, ge=0)
    model_data_gb: float = Field(default=2, ge=0)
    image_gb: float = Field(default=5, ge=0, description="Each model's container image in GB. Default: 5.")
    releases_per_month: float = Field(default=1, ge=0, description="Model versions shipped a month. Default: 1.")

    @field_validator("requests_per_hour")
    @classmethod
    def _day(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if len(value) != 24:
            raise ValueError(f"needs 24 hourly values (hour 0 to 23), got {len(value)}")
        if any(v < 0 for v in value):
            raise ValueError("hourly request rates must be ≥ 0")
        return value

    @field_validator("traffic_mix")
    @classmethod
    def _kinds(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - {"critical", "standard", "bulk"})
        if unknown:
            raise ValueError(f"unknown traffic kinds {unknown}; valid: critical, standard, bulk")
        return value

    @model_validator(mode="after")
    def _shares(self) -> UsageProfile:
        for name, mix in (("traffic_mix", self.traffic_mix), ("model_mix", self.model_mix)):
            if mix is not None and (any(v < 0 for v in mix.values()) or abs(sum(mix.values()) - 1) > 1e-6):
                raise ValueError(f"{name} shares must be ≥ 0 and sum to 1 (they sum to {sum(mix.values()):g})")
        return self

    @property
    def weekly_requests(self) -> float:
        day = sum(self.requests_per_hour)
        return day * (5 + 2 * self.weekend_factor)

    @property
    def peak_hour_requests(self) -> float:
        """The busiest hour of a weekday (weekends scale down, never up, unless weekend_factor > 1)."""
        return max(self.requests_per_hour) * max(1.0, self.weekend_factor)

    @property
    def monthly_requests(self) -> float:
        return self.weekly_requests * 730 / 168

    def model_share(self, model: str, models: list[str]) -> float:
        if self.model_mix is None:
            return 1 / len(models) if model in models and models else 0.0
        return self.model_mix.get(model, 0.0)


def load_usage(path: str | Path) -> UsageProfile:
    """Read a usage profile; any problem is a `SpecError` naming the file and field."""
    file = Path(path)
    return usage_from_data(load_yaml(file, kind="usage profile"), str(file))


def usage_from_data(data: Any, source: str) -> UsageProfile:
    """Validate usage fields (a YAML file's content or an inline policy-config object);
    any problem is a `SpecError` naming `source` and the field."""
    if not isinstance(data, dict):
        raise SpecError(source, ["expected a mapping of usage fields"], kind="usage profile")
    try:
        return UsageProfile.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, problems(exc, UsageProfile), kind="usage profile") from None
