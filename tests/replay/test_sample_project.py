"""data/sample-project: the buildspec the experiments use is valid as shipped."""

from __future__ import annotations

from pathlib import Path

from ciwb.buildspec import load_buildspec, validate_files

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample-project"


def test_sample_buildspec_validates_and_caches_pips_directory() -> None:
    assert [d for d in validate_files([SAMPLE / "buildspec.yml"]) if d.severity == "error"] == []
    spec = load_buildspec(SAMPLE / "buildspec.yml")
    assert spec.cache is not None and ".pip-cache/**/*" in spec.cache.paths
    assert any("-r requirements.txt" in c.text for c in spec.phases["install"].commands)
    assert (SAMPLE / "requirements.txt").read_text().count("==") >= 3
