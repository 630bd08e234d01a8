"""Required tiers: under CI a skipped Docker/QEMU/Chromium test fails, naming the tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.tiers import required_tiers

pytest_plugins = ["pytester"]
TESTS = Path(__file__).resolve().parent


def test_which_tiers_are_required() -> None:
    assert required_tiers({}) == frozenset()
    assert required_tiers({"CI": "true"}) == {"docker", "qemu", "browser"}
    assert required_tiers({"CI": "true", "CIWB_REQUIRE": ""}) == frozenset()
    assert required_tiers({"CIWB_REQUIRE": "docker, chromium"}) == {"docker", "browser"}
    assert required_tiers({"CIWB_REQUIRE": "all"}) == {"docker", "qemu", "browser"}
    with pytest.raises(pytest.UsageError, match="unknown tier.*dokcer"):
        required_tiers({"CIWB_REQUIRE": "dokcer"})


TIERED = """
import pytest

@pytest.mark.docker
@pytest.mark.skipif(True, reason="no dockerd here")
def test_at_setup():
    pass

@pytest.mark.qemu
def test_in_the_body():
    pytest.skip("binfmt missing")

@pytest.mark.skipif(True, reason="not a tier")
def test_untiered():
    pass
"""


@pytest.mark.parametrize(
    ("env", "outcomes", "named"),
    [
        ({"CIWB_REQUIRE": "docker,qemu"}, {"errors": 1, "failed": 1, "skipped": 1}, True),
        ({"CI": "true", "CIWB_REQUIRE": ""}, {"skipped": 3}, False),
        ({}, {"skipped": 3}, False),
    ],
)
def test_a_required_tier_that_skips_is_a_failure_naming_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, env, outcomes, named
) -> None:
    for key in ("CI", "CIWB_REQUIRE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pytester.makeconftest('pytest_plugins = ["support.tiers"]\n')
    pytester.makeini(
        f"[pytest]\npythonpath = {TESTS}\nmarkers =\n  docker: d\n  qemu: q\n  browser: b\n"
    )
    pytester.makepyfile(TIERED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(**outcomes)
    text = result.stdout.str()
    assert ("required tier qemu is not available" in text) == named
    assert ("skipped: binfmt missing" in text) == named
