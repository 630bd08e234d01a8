"""Where ciwb's bundled data tables (prices, billing usage types) live.

One lookup for every table so the three places they can be stay in one order: an explicit
environment variable (a team's own reviewed copy), the copy the wheel carries
(`ciwb/_data/<name>`, see pyproject's force-include), else the checkout's `data/<name>/`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir"]

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str, env_var: str) -> Path:
    """`$env_var` if set, else the wheel's bundled `_data/name`, else the repo's `data/name`."""
    env = os.environ.get(env_var)
    if env:
        return Path(env)
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / "data" / name
