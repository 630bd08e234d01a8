"""The analysis pass's results, kept and compared: the check that a faster `ciwb report all`
still computes what it did (every result every report reads, to 1e-9).

`save(db, folder)` runs the pass (`ciwb.report.analysis.analyse`) for every family into
`folder`, one file per family, as `ciwb report all` does; `compare(before, after)` loads two
such folders and compares every result: frames column by column (floats to 1e-9 relative,
the rest exactly), dataclasses field by field. The benchmark store copies each demo
project many times over, so copies tie wherever rows are ordered by a float sum, and
DuckDB's parallel sums break those ties differently from one run to the next (of the same
code), and a top-N list can then name another copy of the same project. Such a frame or
findings list is compared again with each copy named as the project it copies (the
`-<k>` / `#<k>` suffixes the store adds) and in one order, and counted as `tied`; its
figures must still agree to 1e-9.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from ciwb.report.analysis import analyse, families_of
from ciwb.report.catalog import report_names
from ciwb.report.findings.base import Finding
from ciwb.report.run import _choose_parameters

__all__ = ["compare", "save"]


def save(db: Path, folder: Path) -> dict[str, float]:
    """Every family of the pass for every report into `folder`; seconds per family."""
    folder.mkdir(parents=True, exist_ok=True)
    names = report_names()
    os.environ["CIWB_DB"] = str(db)  # as `ciwb report` sets it for its workers
    chosen = _choose_parameters(names, {}, db)
    families = sorted({f for n in names for f in families_of(n)})
    return {
        family: analyse(
            db,
            {n: chosen[n] for n in names if family in families_of(n)},
            family,
            folder / f"analysis-{family}.pickle",
        )
        for family in families
    }


def _entries(folder: Path) -> dict[tuple, bytes]:
    found: dict[tuple, bytes] = {}
    for path in sorted(folder.glob("analysis-*.pickle")):
        with open(path, "rb") as f:
            found.update(pickle.load(f))
    return found


def _same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, pl.DataFrame):
        assert isinstance(b, pl.DataFrame), where
        assert a.schema == b.schema and a.height == b.height, (where, a.shape, b.shape)
        for c in a.columns:
            x, y = a[c], b[c]
            if x.dtype.is_float():
                np.testing.assert_allclose(
                    x.to_numpy(), y.to_numpy(), rtol=1e-9, equal_nan=True, err_msg=f"{where}.{c}"
                )
            elif x.dtype.is_nested():
                _same(x.to_list(), y.to_list(), f"{where}.{c}")
            else:
                assert x.equals(y, check_names=False), (where, c)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, rtol=1e-9, atol=0, obj=where)
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-9, equal_nan=True, err_msg=where)
    elif dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert type(b) is dict and set(a) == set(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, tuple) and hasattr(a, "_fields"):
        assert type(a) is type(b), where
        for f in a._fields:
            _same(getattr(a, f), getattr(b, f), f"{where}.{f}")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), (where, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9), (where, a, b)
    else:
        assert type(a) is type(b) and a == b, (where, a, b)


_COPY = re.compile(r"(?:-|#)\d+\b")  # benchmarks/reports.py's suffix for copy k


def _canonical(value: Any) -> Any:
    """`value` with every copy named as the demo project (build, batch) it copies, and the
    rows of each frame and findings list in one order."""
    if isinstance(value, pl.DataFrame):
        value = value.with_columns(
            pl.col(c).str.replace_all(_COPY.pattern, "")
            for c, t in value.schema.items()
            if t == pl.String
        )
        keys = [c for c, t in value.schema.items() if not (t.is_float() or t.is_nested())]
        return value.sort(keys, nulls_last=True) if keys else value
    if isinstance(value, str):
        return _COPY.sub("", value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value, **{f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        )
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        found = [_canonical(v) for v in value]
        if found and all(isinstance(f, Finding) for f in found):
            found.sort(key=lambda f: (f.title, f.subject or ""))
        return found
    return value


def compare(before: Path, after: Path) -> tuple[int, list[str], list[str]]:
    """(results compared, the ones equal only with tied rows in one order, the ones that
    differ — each with why)."""
    old, new = _entries(before), _entries(after)
    differ = [f"{k[1]}: only in one run" for k in set(old) ^ set(new)]
    tied: list[str] = []
    for key in sorted(set(old) & set(new), key=repr):
        a, b = pickle.loads(old[key]), pickle.loads(new[key])
        try:
            _same(a, b, key[1])
        except AssertionError:
            try:
                _same(_canonical(a), _canonical(b), key[1])
                tied.append(key[1])
            except AssertionError as exc:
                differ.append(f"{key[1]}: {str(exc)[:300]}")
    return len(set(old) & set(new)), tied, differ
