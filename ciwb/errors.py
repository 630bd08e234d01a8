"""Errors a user can cause and fix. The CLI prints them as one line, never a traceback."""

from __future__ import annotations


class CiwbError(Exception):
    """A problem the user can act on. `exit_code` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base


class StoreError(CiwbError):
    """The DuckDB file cannot be used: locked, corrupt, or written by a newer ciwb."""


class StoreLockedError(StoreError):
    pass


class StoreCorruptError(StoreError):
    pass


class StoreTooNewError(StoreError):
    pass


class BillError(CiwbError):
    """Billing data (CUR, Data Exports, Cost Explorer) that cannot be read or used."""


class BillSourceNotFoundError(BillError):
    """The path, bucket or prefix holds no billing files."""


class NotABillError(BillError):
    """A file that is neither a CUR 2.0 / Data Exports file nor a legacy CUR."""


class NoCodeBuildRowsError(BillError):
    """Billing data with no line item for CodeBuild."""
