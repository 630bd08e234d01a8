"""One query helper for the demo tests."""

from __future__ import annotations


def q(con, sql: str, *params) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()
