"""`model-incident eval` refuses invalid scenario files before running anything (exit 2)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app


def test_invalid_scenarios_exit_2_listing_every_file_and_field(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "a.yaml").write_text("id: a\ncategory: leaf\n", encoding="utf-8")
    (outside / "b.yaml").write_text(
        "id: b\ncategory: weird\ntrigger: {command: /model-incident x}\nworld: {}\nexpected: {}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["eval", "--scenarios", str(outside)], terminal_width=300)
    assert result.exit_code == 2, result.output
    assert f"{outside / 'a.yaml'}: trigger" in result.output
    assert f"{outside / 'b.yaml'}: category" in result.output
    assert "2 invalid scenario file(s); nothing was run." in result.output


def test_unknown_category_and_llm_are_refused() -> None:
    result = CliRunner().invoke(app, ["eval", "--category", "nope"])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["eval", "--llm", "gpt"])
    assert result.exit_code == 2
