"""The CLI reference (docs/cli.md), generated from each command's own `--help`.

sqlite-utils style: the reference cannot drift from the code, because a test regenerates it
and fails when the committed file differs (a new command without docs fails CI).
Regenerate with `python -m ciwb.cli_reference > docs/cli.md`.
"""

from __future__ import annotations

import typer.main

__all__ = ["cli_reference"]


def _walk(command, path: list[str]):
    """Every command path below `command`, depth first, subcommands sorted by name.

    Typer vendors its own click, so groups are recognised by their `commands` mapping.
    """
    yield path, command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        if not getattr(sub, "hidden", False):
            yield from _walk(sub, [*path, name])


def cli_reference() -> str:
    """Markdown with every command's usage and help text, in command-tree order."""
    from typer.testing import CliRunner

    from ciwb.cli import app

    root = typer.main.get_command(app)
    runner = CliRunner()
    # Fixed width and no colour so the file is the same on every terminal.
    env = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1", "TERM": "dumb"}
    parts = ["# ciwb CLI reference", "", "Generated from `--help`; do not edit by hand.", ""]
    for path, _command in _walk(root, []):
        result = runner.invoke(app, [*path, "--help"], env=env, prog_name="ciwb")
        text = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
        parts += [f"## {' '.join(['ciwb', *path])}", "", "```", text, "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(cli_reference(), end="")
