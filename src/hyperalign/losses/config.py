"""The ``loss`` section of a run configuration: settings every objective shares, plus one section per method.

``loss.method`` names a method of :mod:`hyperalign.losses.registry`; a method with settings of its own declares them
as a pydantic class there, read from ``loss.<method>`` (e.g. ``loss.argent.norm_weight``). Every registered section
is present in a validated config (its defaults when not given), and a section may differ from its defaults only
when its method is the one chosen.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hyperalign.losses import registry
from hyperalign.losses.pairing import Pairing


def _section_error(name: str, e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in ("loss", name, *err["loc"]))
        got = f" (got {err['input']!r})" if err["type"] != "missing" and not isinstance(err["input"], dict) else ""
        parts.append(f"{loc}: {err['msg']}{got}")
    return "; ".join(parts)


class LossConfig(BaseModel):
    """Shared objective settings; ``weights()`` gives the chosen method's term weights."""

    # extra keys are the method sections, validated against the registry below
    model_config = ConfigDict(extra="allow")

    method: str = Field("h2arn", description="objective, a method of hyperalign.losses.registry: h2arn, meru, argent, hetero")
    pairing: Pairing = Field("multi", description="positives: multi (every described shape) or paired (CLIP-style)")
    temperature: float = Field(0.07, gt=0, description="InfoNCE temperature tau (1 / logit scale)")
    learn_temperature: bool = False
    temperature_min: float = Field(0.01, gt=0)
    temperature_max: float = Field(1.0, gt=0)
    contrastive_weight: float = Field(1.0, ge=0)
    ordering_weight: float = Field(
        0.2, ge=0, description="lambda of the cone term: H2ARN L_ord, MERU L_ent, ARGENT L_AdaEnt (unused by hetero)"
    )
    aperture_K: float = Field(0.1, gt=0, description="K in aper(x) = asin(2K / (sqrt(c) ||x~||))")

    @model_validator(mode="after")
    def _checks(self) -> LossConfig:
        if not self.temperature_min <= self.temperature <= self.temperature_max:
            raise ValueError(f"temperature {self.temperature} must lie in [{self.temperature_min}, {self.temperature_max}]")
        registry.get_method(self.method)
        extra: dict[str, Any] = self.__pydantic_extra__ if self.__pydantic_extra__ is not None else {}
        sections = registry.sections()
        unknown = sorted(set(extra) - set(sections))
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}: expected a shared setting or a method section "
                f"({', '.join(sorted(sections)) or 'none registered'})"
            )
        for name, cls in sections.items():
            raw = extra.get(name)
            try:
                value = raw if isinstance(raw, cls) else cls() if raw is None else cls.model_validate(raw)
            except ValidationError as e:
                raise ValueError(_section_error(name, e)) from None
            if self.method != name and value != cls():
                raise ValueError(f"loss.{name} is set but only read when loss.method is {name!r} (method is {self.method!r})")
            extra[name] = value
        return self

    def section(self, name: str) -> Any:
        """The validated settings ``loss.<name>`` of a registered method."""
        extra = self.__pydantic_extra__ or {}
        if name not in extra:
            raise KeyError(f"loss.{name}: no such method section (sections: {', '.join(sorted(extra))})")
        return extra[name]

    def weights(self) -> dict[str, float]:
        """Weight of each named term of this method's objective."""
        return registry.get_method(self.method).weights(self)
