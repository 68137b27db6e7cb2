"""Prompt templates as validated files (``prompts/*.yaml``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
UNTRUSTED_RULE = "untrusted_rule"


class PromptError(ValueError):
    """A prompt file that does not validate; the message names the file and the field."""


class Prompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z_]+$")
    version: int = Field(ge=1)
    purpose: str
    temperature: float = Field(0, ge=0, le=1)
    max_tokens: int = Field(gt=0, le=4000)
    placeholders: list[str]
    system: str
    user: str
    # The JSON schema every answer must match (sent as ``response_format`` json_schema).
    answer_schema: dict[str, Any]

    @model_validator(mode="after")
    def _placeholders_declared(self) -> Prompt:
        used = set(_PLACEHOLDER.findall(self.user))
        declared = set(self.placeholders)
        if used != declared:
            raise ValueError(
                f"user template uses {sorted(used)} but placeholders declares {sorted(declared)}"
            )
        if "{" + UNTRUSTED_RULE + "}" not in self.system:
            raise ValueError("system must include {untrusted_rule}: untrusted text is data")
        if "untrusted" in declared and "<untrusted>" not in self.user:
            raise ValueError("the {untrusted} placeholder must sit inside <untrusted> tags")
        if self.answer_schema.get("type") != "object" or "properties" not in self.answer_schema:
            raise ValueError("answer_schema must be a JSON schema of an object with properties")
        try:
            import jsonschema  # type: ignore[import-untyped]

            jsonschema.Draft202012Validator.check_schema(self.answer_schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"answer_schema is not a JSON schema: {exc.message}") from None
        return self

    def render(self, rule: str, **values: str) -> tuple[str, str]:
        """(system, user) with every placeholder filled; untrusted text cannot close its fence."""
        missing = set(self.placeholders) - set(values)
        if missing:
            raise KeyError(f"prompt {self.id} needs {sorted(missing)}")
        safe = {k: v.replace("</untrusted>", "</ untrusted>") for k, v in values.items()}
        user = _PLACEHOLDER.sub(lambda m: safe[m.group(1)], self.user)
        return self.system.replace("{" + UNTRUSTED_RULE + "}", rule.strip()), user


def load_prompts(directory: Path) -> dict[str, Prompt]:
    """Every ``*.yaml`` prompt in ``directory`` by id; PromptError on the first bad file."""
    prompts: dict[str, Prompt] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            prompt = Prompt.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(file)"
            raise PromptError(f"{path}: {where}: {first['msg']}") from None
        prompts[prompt.id] = prompt
    return prompts


def untrusted_rule(directory: Path) -> str:
    return (directory / "_untrusted_rule.txt").read_text(encoding="utf-8")


def default_prompt_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "prompts"
