"""Prompt files are validated at load: each fences untrusted text, includes the rule about it,
declares its placeholders and the JSON schema of its answer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.llm.prompts import PromptError, default_prompt_dir, load_prompts

GOOD = {
    "id": "sample",
    "version": 1,
    "purpose": "a test",
    "max_tokens": 50,
    "placeholders": ["untrusted"],
    "system": "Be exact.\n{untrusted_rule}",
    "user": "<untrusted>\n{untrusted}\n</untrusted>",
    "answer_schema": {"type": "object", "properties": {"text": {"type": "string"}}},
}


def test_every_prompt_of_the_bot_loads_with_an_answer_schema() -> None:
    prompts = load_prompts(default_prompt_dir())
    assert set(prompts) >= {"interpret", "triage", "summarise", "question", "postmortem"}
    for prompt in prompts.values():
        assert prompt.answer_schema["type"] == "object" and prompt.max_tokens <= 1000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answer_schema": {"type": "string"}}, "answer_schema"),
        ({"answer_schema": {"type": "object", "properties": {"x": {"type": 5}}}}, "JSON schema"),
        ({"system": "no rule here"}, "untrusted_rule"),
        ({"user": "{untrusted}"}, "<untrusted>"),
        ({"placeholders": []}, "placeholders"),
    ],
)
def test_a_bad_prompt_file_is_refused_with_its_field(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    (tmp_path / "sample.yaml").write_text(yaml.safe_dump({**GOOD, **change}))
    with pytest.raises(PromptError, match=message):
        load_prompts(tmp_path)
