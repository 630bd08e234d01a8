"""The build environment: CodeBuild's own variables, precedence, env files, secrets, masking.

docs/reference/buildspec-semantics.md, "Environment CodeBuild provides" and "Keys":
- precedence: start-build override (`--env-file`, batch task env) > project > buildspec;
- names starting CODEBUILD_ are reserved (a buildspec cannot set them);
- `secrets-manager` values are `secret-id:json-key:version-stage:version-id`, all but the
  id optional; an ARN id contains colons itself, so its seven fields are split off first;
- secret and parameter values are masked in logs (here: every line, and never stored).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ciwb.codebuild import arns
from ciwb.errors import CiwbError, SecretResolutionError

__all__ = [
    "BuildIdentity",
    "Masker",
    "SecretRef",
    "SecretSource",
    "codebuild_variables",
    "git_source_info",
    "load_secrets_file",
    "merge_environment",
    "parse_secret_ref",
    "read_env_file",
    "resolve_secrets",
]


@dataclass(frozen=True)
class BuildIdentity:
    """Ids and ARNs in AWS's formats for one (replayed) build."""

    project: str
    uuid: str
    region: str
    account: str
    build_number: int
    start_ms: int

    @property
    def build_id(self) -> str:
        return arns.build_id(self.project, self.uuid)

    @property
    def build_arn(self) -> str:
        return arns.build_arn(self.region, self.account, self.build_id)

    @property
    def project_arn(self) -> str:
        return arns.project_arn(self.region, self.account, self.project)


def git_source_info(src: Path) -> dict[str, str]:
    """Source version and repo URL from git when the source is a repository, else {}."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(src), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None

    info: dict[str, str] = {}
    commit = git("rev-parse", "HEAD")
    if commit is None:
        return info
    info["resolved"] = commit
    branch = git("symbolic-ref", "--short", "-q", "HEAD")
    info["version"] = f"refs/heads/{branch}" if branch else commit
    url = git("config", "--get", "remote.origin.url")
    if url:
        info["url"] = url
    return info


def codebuild_variables(
    ident: BuildIdentity,
    *,
    src_dir: str,
    image: str,
    log_path: str,
    source: Mapping[str, str],
    initiator: str,
    batch_identifier: str | None = None,
    kms_key: str | None = None,
) -> dict[str, str]:
    """The CODEBUILD_* family (and AWS_REGION) as CodeBuild sets them."""
    env = {
        "AWS_REGION": ident.region,
        "AWS_DEFAULT_REGION": ident.region,
        "CODEBUILD_BUILD_ARN": ident.build_arn,
        "CODEBUILD_BUILD_ID": ident.build_id,
        "CODEBUILD_BUILD_IMAGE": image,
        "CODEBUILD_BUILD_NUMBER": str(ident.build_number),
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "CODEBUILD_INITIATOR": initiator,
        "CODEBUILD_KMS_KEY_ID": kms_key or arns.default_kms_key_arn(ident.region, ident.account),
        "CODEBUILD_LOG_PATH": log_path,
        "CODEBUILD_PROJECT_ARN": ident.project_arn,
        "CODEBUILD_RESOLVED_SOURCE_VERSION": source.get("resolved", ""),
        "CODEBUILD_SOURCE_REPO_URL": source.get("url", ""),
        "CODEBUILD_SOURCE_VERSION": source.get("version", ""),
        "CODEBUILD_SRC_DIR": src_dir,
        "CODEBUILD_START_TIME": str(ident.start_ms),
    }
    if batch_identifier:
        env["CODEBUILD_BATCH_BUILD_IDENTIFIER"] = batch_identifier
    return env


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_env_file(path: Path, host: Mapping[str, str] | None = None) -> dict[str, str]:
    """The AWS local agent's `-e` file (docker's env-file format).

    One `NAME=value` a line, the value taken literally (no quotes removed, no expansion);
    `#` starts a comment line; a bare `NAME` takes the value from ciwb's own environment.
    """
    host = os.environ if host is None else host
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise CiwbError(f"cannot read env file {path}: {exc.strerror}") from None
    out: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.lstrip()
        if not text or text.startswith("#"):
            continue
        name, sep, value = text.partition("=")
        if not _ENV_NAME.match(name):
            raise CiwbError(f"{path}:{number}:1: not a NAME=value line: {line!r}")
        if not sep:
            if name in host:
                out[name] = host[name]
            continue
        out[name] = value
    return out


@dataclass(frozen=True)
class SecretRef:
    secret_id: str
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None


def parse_secret_ref(text: str) -> SecretRef:
    """`secret-id:json-key:version-stage:version-id`; an ARN id keeps its own 7 fields."""
    if text.startswith("arn:"):
        parts = text.split(":")
        secret_id, rest = ":".join(parts[:7]), parts[7:]
    else:
        secret_id, *rest = text.split(":")
    rest += [""] * (3 - len(rest))
    json_key, stage, version = (r or None for r in rest[:3])
    return SecretRef(secret_id, json_key, stage, version)


@dataclass
class SecretSource:
    """Where secret values come from: a secrets file, or AWS (boto3) with --resolve-secrets.

    File format (JSON or YAML)::

        parameter-store: {"/my/param": "value"}
        secrets-manager:
          my-secret: '{"user": "u", "pass": "p"}'      # SecretString at AWSCURRENT
          json-one: {user: u, pass: p}                  # the same, written as a mapping
          other: {stages: {AWSCURRENT: "...", AWSPREVIOUS: "..."}, versions: {"<id>": "..."}}
    """

    parameters: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    session: Any = None  # a boto3.Session when resolving from AWS
    region: str | None = None

    def parameter(self, name: str) -> str:
        if self.session is not None:
            client = self.session.client("ssm", region_name=self.region)
            try:
                return client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            except client.exceptions.ParameterNotFound:
                raise SecretResolutionError(f"parameter-store: {name} not found") from None
        if name not in self.parameters:
            raise SecretResolutionError(f"parameter-store: {name} not found in the secrets file")
        return str(self.parameters[name])

    def secret_string(self, ref: SecretRef) -> str:
        if self.session is not None:
            client = self.session.client("secretsmanager", region_name=self.region)
            kwargs: dict[str, str] = {"SecretId": ref.secret_id}
            if ref.version_stage:
                kwargs["VersionStage"] = ref.version_stage
            if ref.version_id:
                kwargs["VersionId"] = ref.version_id
            try:
                return client.get_secret_value(**kwargs)["SecretString"]
            except client.exceptions.ResourceNotFoundException:
                raise SecretResolutionError(f"secrets-manager: {ref.secret_id} not found") from None
        entry = self.secrets.get(ref.secret_id)
        if entry is None:
            raise SecretResolutionError(
                f"secrets-manager: {ref.secret_id} not found in the secrets file"
            )
        if isinstance(entry, dict) and not {"stages", "versions"} & entry.keys():
            entry = json.dumps(entry)  # a JSON secret written as a mapping
        if isinstance(entry, str):
            if ref.version_id or ref.version_stage not in (None, "AWSCURRENT"):
                raise SecretResolutionError(
                    f"secrets-manager: {ref.secret_id} has no version "
                    f"{ref.version_id or ref.version_stage} in the secrets file"
                )
            return entry
        if ref.version_id:
            value = (entry.get("versions") or {}).get(ref.version_id)
        else:
            value = (entry.get("stages") or {}).get(ref.version_stage or "AWSCURRENT")
        if value is None:
            raise SecretResolutionError(
                f"secrets-manager: {ref.secret_id} has no version "
                f"{ref.version_id or ref.version_stage or 'AWSCURRENT'}"
            )
        return value if isinstance(value, str) else json.dumps(value)


def load_secrets_file(path: Path) -> SecretSource:
    from ruamel.yaml import YAML

    try:
        text = path.read_text()
    except OSError as exc:
        raise CiwbError(f"cannot read secrets file {path}: {exc.strerror}") from None
    try:
        data = YAML(typ="safe").load(text) or {}
    except Exception as exc:  # ruamel raises several error types
        raise CiwbError(f"{path}: not JSON or YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise CiwbError(f"{path}: expected a mapping with parameter-store / secrets-manager")
    return SecretSource(
        parameters={str(k): str(v) for k, v in (data.get("parameter-store") or {}).items()},
        secrets=dict(data.get("secrets-manager") or {}),
    )


def resolve_secrets(
    parameter_store: Mapping[str, str], secrets_manager: Mapping[str, str], source: SecretSource
) -> dict[str, str]:
    """Variable name → resolved value for the buildspec's parameter-store / secrets-manager."""
    out: dict[str, str] = {}
    for name, param in parameter_store.items():
        out[name] = source.parameter(param)
    for name, text in secrets_manager.items():
        ref = parse_secret_ref(text)
        value = source.secret_string(ref)
        if ref.json_key:
            try:
                doc = json.loads(value)
            except ValueError:
                raise SecretResolutionError(
                    f"secrets-manager: {ref.secret_id} is not JSON, cannot take key "
                    f"{ref.json_key!r}"
                ) from None
            if not isinstance(doc, dict) or ref.json_key not in doc:
                raise SecretResolutionError(
                    f"secrets-manager: {ref.secret_id} has no key {ref.json_key!r}"
                )
            item = doc[ref.json_key]
            value = item if isinstance(item, str) else json.dumps(item)
        out[name] = value
    return out


def merge_environment(
    *,
    host: Mapping[str, str],
    buildspec: Mapping[str, str],
    secrets: Mapping[str, str],
    project: Mapping[str, str],
    overrides: Mapping[str, str],
    codebuild: Mapping[str, str],
) -> dict[str, str]:
    """Lowest to highest: host < buildspec (incl. secrets) < project < start-build override.

    CodeBuild's own variables are set last (names starting CODEBUILD_ are reserved), except
    AWS_REGION/AWS_DEFAULT_REGION which a user may override.
    """
    env = dict(host)
    env.update({k: v for k, v in codebuild.items() if not k.startswith("CODEBUILD_")})
    for layer in (buildspec, secrets, project, overrides):
        env.update({k: v for k, v in layer.items() if not k.startswith("CODEBUILD_")})
    env.update({k: v for k, v in codebuild.items() if k.startswith("CODEBUILD_")})
    return env


class Masker:
    """Replaces every secret value by `***` (longest first, so overlaps mask fully)."""

    def __init__(self, values: list[str] | None = None) -> None:
        self._values: list[str] = []
        for value in values or ():
            self.add(value)

    def add(self, value: str) -> None:
        if value and value not in self._values:
            self._values.append(value)
            self._values.sort(key=len, reverse=True)
            # a multi-line secret is also masked line by line, as logs arrive per line
            for part in value.splitlines():
                if part and part != value:
                    self.add(part)

    def __bool__(self) -> bool:
        return bool(self._values)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, "***")
        return text
