"""docs/cli.md is generated from --help; a command without docs (or stale docs) fails here."""

from __future__ import annotations

from pathlib import Path

from ciwb.cli_reference import cli_reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_reference_is_up_to_date():
    expected = cli_reference()
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/cli.md is stale: run `python -m ciwb.cli_reference > docs/cli.md`"
    )


def test_every_command_has_a_section_and_a_help_text():
    text = cli_reference()
    for name in ("ciwb demo", "ciwb db info", "ciwb db export", "ciwb db migrate"):
        assert f"## {name}\n" in text
    sections = text.split("\n## ")[1:]
    for section in sections:
        body = section.split("```")[1]
        assert "Usage:" in body
