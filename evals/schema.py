"""Write ``evals/schema.json``, the JSON Schema of a scenario file: ``python -m evals.schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.scenario import Scenario

SCHEMA_FILE = Path(__file__).with_name("schema.json")


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema generated from :class:`evals.scenario.Scenario`."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://model-incident-bot/evals/schema.json"
    return schema


def render() -> str:
    return json.dumps(scenario_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
