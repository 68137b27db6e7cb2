"""The PromQL templates of the SLIs, loaded from ``tools/sli_queries.yaml`` (the one place PromQL
lives), and how to fill them in for one target and window."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

QUERIES_FILE = Path(__file__).with_name("sli_queries.yaml")

# SLIs whose answer is a label of the first sample (value 1), not the sample's value.
LABEL_SLIS: dict[str, str] = {
    "deployed_version": "version",
    "expected_version": "expected_version",
    "accuracy_trend": "trend",
}


@cache
def load_queries(path: Path = QUERIES_FILE) -> dict[str, str]:
    """The templates by SLI name. Raises ``ValueError`` unless the file maps names to strings."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(f"{path}: expected a mapping of SLI name to a PromQL string")
    return dict(data)


def render(template: str, target: str, window_minutes: int) -> str:
    """Substitute ``{target}`` and ``{window}``. Plain replacement: PromQL is full of braces.

    The target is escaped for a PromQL double-quoted string, so a name cannot break out of the
    label matcher (targets come from alert labels: untrusted input).
    """
    escaped = target.replace("\\", "\\\\").replace('"', '\\"')
    return template.replace("{target}", escaped).replace("{window}", str(int(window_minutes)))
