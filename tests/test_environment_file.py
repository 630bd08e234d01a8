"""environment.yml stays the conda twin of pyproject.toml: same packages, same pins and ranges."""

import re
import tomllib
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names that differ from PyPI's, and the server extra moto needs spelled out
CONDA_NAMES = {"docker": "docker-py"}
EXTRAS = {"moto[server]": ["flask", "flask-cors"]}


def _split(spec: str) -> tuple[str, str]:
    name, rest = re.match(r"([A-Za-z0-9_.\-\[\]]+)\s*(.*)", spec).groups()
    return name.lower(), rest.replace("==", "=")


def test_environment_yml_lists_pyproject_dependencies_with_the_same_specifiers():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected: dict[str, str] = {}
    for spec in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        name, version = _split(spec)
        for extra in EXTRAS.get(name, []):
            expected[extra] = ""
        name = CONDA_NAMES.get(re.sub(r"\[.*\]", "", name), re.sub(r"\[.*\]", "", name))
        expected[name] = version

    env = YAML(typ="safe").load((ROOT / "environment.yml").read_text())
    listed = dict(_split(d) for d in env["dependencies"] if isinstance(d, str))
    listed.pop("python")
    listed.pop("pip")
    assert listed == expected
