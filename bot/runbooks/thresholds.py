"""The one thresholds file (``runbooks/thresholds.yaml``): every number a decision hinges on.

Where a seed document gives a number, the file says which section it comes from; where the seeds
give none, the file says which number was chosen and why. Runbooks refer to a threshold as
``${name}`` inside an expression, a placeholder or a parameter; the loader replaces it with the
number, or, when a team overrides the number for some targets, with an expression that picks the
target's own value (``(0.2 if target == 'billing_agent' else 0.1)``). Because the substitution
happens at load time, the walk needs nothing new, and a runbook naming an unknown threshold fails
to load with its file, node and field.

The SLI queries and the alert rules cannot read this file (PromQL and Prometheus rule files have
no includes), so each threshold lists where else it is written and a test compares the numbers.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

THRESHOLDS_FILE = "thresholds.yaml"
# `${name}`; the name is a threshold of the file.
PLACEHOLDER = re.compile(r"\$\{([a-z][a-z0-9_]*)\}")
# A target name as it may appear inside a quoted string literal of an expression.
_SAFE_TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/*-]{0,199}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UsedBy(_Strict):
    """Where else the number is written (checked by ``tests/runbooks/test_thresholds.py``)."""

    alerts: list[str] = Field(default_factory=list, description="alert rule names")
    sli_queries: list[str] = Field(default_factory=list, description="SLI names in the queries")


class Threshold(_Strict):
    value: float
    unit: str
    source: Literal["seed", "chosen"]
    reason: str = Field(min_length=10, description="the seed section, or why this number")
    used_by: UsedBy = Field(default_factory=UsedBy)


class Thresholds(_Strict):
    """The file: named thresholds and per-target overrides."""

    thresholds: dict[str, Threshold]
    targets: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="target name -> threshold name -> its own value"
    )

    @model_validator(mode="after")
    def _overrides_name_thresholds(self) -> Thresholds:
        for target, overrides in self.targets.items():
            if not _SAFE_TARGET.match(target):
                raise ValueError(f"targets.{target}: not a target name")
            for name in overrides:
                if name not in self.thresholds:
                    known = ", ".join(sorted(self.thresholds))
                    raise ValueError(f"targets.{target}.{name}: no such threshold; known: {known}")
        return self

    def value(self, name: str, target: str | None = None) -> float:
        """The number for ``target`` (its override, else the default)."""
        if target is not None and name in self.targets.get(target, {}):
            return self.targets[target][name]
        return self.thresholds[name].value

    def expression(self, name: str) -> str:
        """The threshold as a runbook expression: the number, or a choice by target."""
        text = _number(self.thresholds[name].value)
        for target in sorted(self.targets, reverse=True):
            if name in self.targets[target]:
                own = _number(self.targets[target][name])
                text = f"({own} if target == '{target}' else {text})"
        return text


class ThresholdsError(ValueError):
    """The thresholds file is missing, not YAML, or does not validate; names the field."""


def _number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def parse_thresholds(text: str, file: Path | str) -> Thresholds:
    """Validate the thresholds file's text."""
    try:
        # libyaml's parser when present: the pure-Python one was a noticeable part of a CLI start.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ThresholdsError(f"{file}: not valid YAML: {exc}") from None
    try:
        return Thresholds.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ThresholdsError(f"{file} field {where!r}: {err['msg']}") from None


@cache
def _load_cached(path: Path, mtime_ns: int) -> Thresholds:
    return parse_thresholds(path.read_text(encoding="utf-8"), path)


def load_thresholds(directory: Path | str) -> Thresholds | None:
    """The thresholds file of a runbook folder, or ``None`` when the folder has none."""
    path = Path(directory) / THRESHOLDS_FILE
    if not path.is_file():
        return None
    return _load_cached(path.resolve(), path.stat().st_mtime_ns)


def substitute(data: Any, thresholds: Thresholds | None, where: tuple[str, ...] = ()) -> Any:
    """``data`` (a parsed runbook) with every ``${name}`` replaced by its expression.

    Raises ``KeyError`` with the path of the string (``("nodes", "x", "branches", "0", "when")``)
    and the unknown name as its arguments.
    """
    if isinstance(data, dict):
        return {k: substitute(v, thresholds, (*where, str(k))) for k, v in data.items()}
    if isinstance(data, list):
        return [substitute(v, thresholds, (*where, str(i))) for i, v in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data
    # Expressions (branch conditions, recorded facts, "=..." parameters) get the per-target
    # choice; text meant for people shows the default number.
    expression = data.startswith("=") or where[-1:] == ("when",) or where[-2:-1] == ("record",)

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if thresholds is None or name not in thresholds.thresholds:
            raise KeyError(where, name)
        if expression:
            return thresholds.expression(name)
        return _number(thresholds.thresholds[name].value)

    whole = PLACEHOLDER.fullmatch(data)
    if whole and not expression:
        one(whole)  # the name must exist
        assert thresholds is not None
        value = thresholds.thresholds[whole.group(1)].value
        return int(value) if float(value).is_integer() else value  # a plain parameter: a number
    return PLACEHOLDER.sub(one, data)
