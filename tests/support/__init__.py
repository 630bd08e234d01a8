"""Helpers shared by the test suite, imported as `support.<module>` from any test directory.

`pyproject.toml` puts `tests/` on pytest's `pythonpath`, so the same absolute import works for
every test file wherever it lives, under any import mode, and for `benchmarks/`. The fixtures
in `support.aws` are registered for the whole suite by `tests/conftest.py`.

- `aws`: the one local AWS endpoint (moto's server over HTTP) and the env pointing boto3 at it
- `builds`: Build and Project records in the shapes BatchGetBuilds/BatchGetProjects return
- `seeded_codebuild`: moto's CodeBuild seeded with those records and made to page like AWS
- `collect_history`: `ciwb.demo` histories re-homed to moto's account
- `stores`: small real DuckDB stores written the way `collect` writes them
- `old_stores`: stores at an older schema version, for upgrade tests
- `queries`: read rows back from a store
- `ports`: a port nothing listens on (everything else binds port 0)
- `replay`, `tiers`, `chromium`, `reporting`: replay results, Docker/QEMU skips, headless
  Chromium, the CLI in a subprocess
"""

__all__: list[str] = []
