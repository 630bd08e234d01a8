"""The buildspec: the whole key tree as a typed model, every node with its line and column.

Rules are from docs/reference/buildspec-semantics.md ("Loading", "Keys"): scalars stay as
written, scalar-where-list and null `commands:` are accepted, unknown keys are warnings,
versions 0.1 and 0.2 are both accepted (0.1 spells env `environment_variables: plaintext:`).
Problems are `Diagnostic`s printed as `file:line:col: message`.
"""

from __future__ import annotations

import re
from pathlib import Path

from ciwb.buildspec.diagnostics import Diagnostic
from ciwb.buildspec.model import (
    COVERAGE_FORMATS,
    PHASE_NAMES,
    TEST_FORMATS,
    ArtifactSpec,
    BatchSpec,
    BatchTask,
    Buildspec,
    CacheSpec,
    Command,
    OnFailure,
    PhaseSpec,
    ReportGroupSpec,
)
from ciwb.buildspec.yamlnodes import YMap, YNode, YScalar, YSeq, compose_text
from ciwb.errors import BuildspecError, CiwbError, YamlLoadError

__all__ = [
    "load_buildspec",
    "locate_buildspec",
    "parse_buildspec",
    "parse_on_failure",
    "validate_files",
]

_TRUE = frozenset({"yes", "true", "on", "y"})
_FALSE = frozenset({"no", "false", "off", "n"})


def parse_on_failure(text: str) -> OnFailure:
    """On-failure keyword, case-insensitive (reference: "on-failure"). Raises ValueError."""
    upper = text.strip().upper()
    if upper in ("ABORT", "CONTINUE"):
        return OnFailure(upper, text=text)
    if upper == "RETRY":
        return OnFailure("RETRY", retries=3, text=text)
    if upper.startswith("RETRY-"):
        rest = text.strip()[6:]
        count_only = re.fullmatch(r"\d+", rest)
        count_and_regex = re.fullmatch(r"(\d+)-(.+)", rest, re.S)
        if count_only:
            retries, pattern = int(rest), None
        elif count_and_regex:
            retries, pattern = int(count_and_regex.group(1)), count_and_regex.group(2)
        else:
            retries, pattern = 3, rest
        if not 0 <= retries <= 100:
            raise ValueError(f"retry count {retries} is outside 0-100")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid retry regex {pattern!r}: {exc}") from None
        return OnFailure("RETRY", retries=retries, pattern=pattern, text=text)
    raise ValueError(
        f"unknown on-failure {text!r} (ABORT, CONTINUE, RETRY, RETRY-n, RETRY-regex, RETRY-n-regex)"
    )


class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path
        self.diags: list[Diagnostic] = []

    # ---- diagnostics
    def error(self, node: YNode | None, message: str) -> None:
        line, col = (node.line, node.col) if node else (1, 1)
        self.diags.append(Diagnostic(self.path, line, col, message))

    def warn(self, node: YNode | None, message: str) -> None:
        line, col = (node.line, node.col) if node else (1, 1)
        self.diags.append(Diagnostic(self.path, line, col, message, "warning"))

    # ---- typed accessors
    def mapping(self, node: YNode | None, where: str) -> YMap | None:
        if node is None or (isinstance(node, YScalar) and node.is_null):
            return None
        if not isinstance(node, YMap):
            self.error(node, f"{where} must be a mapping")
            return None
        return node

    def keys(self, node: YMap, where: str, known: tuple[str, ...]) -> None:
        for key, (key_node, _) in node.entries.items():
            if key not in known:
                self.warn(key_node, f"unknown key {key!r} in {where} (ignored)")

    def scalar(self, node: YNode | None, where: str) -> str | None:
        if node is None:
            return None
        if isinstance(node, YScalar):
            return None if node.is_null else node.value
        self.error(node, f"{where} must be a single value")
        return None

    def boolean(self, node: YNode | None, where: str, default: bool = False) -> bool:
        text = self.scalar(node, where)
        if text is None:
            return default
        if text.strip().lower() in _TRUE:
            return True
        if text.strip().lower() in _FALSE:
            return False
        self.error(node, f"{where} must be yes/no or true/false, not {text!r}")
        return default

    def str_list(self, node: YNode | None, where: str) -> list[str]:
        """A list of strings; one scalar is a one-item list; null is empty."""
        if node is None:
            return []
        if isinstance(node, YScalar):
            return [] if node.is_null else [node.value]
        if isinstance(node, YSeq):
            out = []
            for item in node.items:
                value = self.scalar(item, f"an item of {where}")
                if value is not None:
                    out.append(value)
            return out
        self.error(node, f"{where} must be a list")
        return []

    def commands(self, node: YNode | None, where: str) -> list[Command]:
        if node is None:
            return []
        items: list[YNode]
        if isinstance(node, YScalar):
            items = [] if node.is_null else [node]
        elif isinstance(node, YSeq):
            items = node.items
        else:
            self.error(node, f"{where} must be a list of commands")
            return []
        out = []
        for item in items:
            if isinstance(item, YScalar):
                if not item.is_null:
                    out.append(Command(item.value.rstrip("\n"), item.line, item.col))
            else:
                hint = " (quote a command that contains ': ')" if isinstance(item, YMap) else ""
                self.error(item, f"a command in {where} must be a string{hint}")
        return out

    def str_map(self, node: YNode | None, where: str) -> dict[str, str]:
        mapping = self.mapping(node, where)
        if mapping is None:
            return {}
        out = {}
        for key, (key_node, value) in mapping.entries.items():
            text = self.scalar(value, f"{where}.{key}")
            out[key] = "" if text is None else text
            if key.startswith("CODEBUILD_") and where.endswith("variables"):
                self.warn(key_node, f"variable names starting CODEBUILD_ are reserved: {key}")
        return out

    # ---- sections
    def parse(self, root: YNode | None) -> Buildspec | None:
        if root is None:
            self.error(None, "the buildspec is empty")
            return None
        if not isinstance(root, YMap):
            self.error(root, "a buildspec must be a mapping of keys (version, phases, ...)")
            return None
        self.keys(
            root,
            "the buildspec",
            (
                "version",
                "run-as",
                "env",
                "environment_variables",
                "proxy",
                "batch",
                "phases",
                "reports",
                "artifacts",
                "cache",
            ),
        )
        version_node = root.get("version")
        version = self.scalar(version_node, "version")
        if version is None:
            self.error(root, "version is required (0.1 or 0.2)")
            version = "0.2"
        elif version not in ("0.1", "0.2"):
            self.error(version_node, f"unsupported version {version!r} (0.1 or 0.2)")
        spec = Buildspec(path=self.path, version=version)
        spec.run_as = self.scalar(root.get("run-as"), "run-as")
        self.env(root, spec)
        proxy = self.mapping(root.get("proxy"), "proxy")
        if proxy is not None:
            self.keys(proxy, "proxy", ("upload-artifacts", "logs"))
            for key in ("upload-artifacts", "logs"):
                if key in proxy.entries:
                    spec.proxy[key] = self.boolean(proxy.get(key), f"proxy.{key}")
        phases_node = root.get("phases")
        if phases_node is None and root.get("batch") is None:
            self.error(root, "phases is required")
        phases = self.mapping(phases_node, "phases")
        if phases is not None:
            for name, (key_node, value) in phases.entries.items():
                if name not in PHASE_NAMES:
                    self.warn(
                        key_node,
                        f"unknown phase {name!r} (install, pre_build, build, "
                        "post_build); it will not run",
                    )
                    continue
                spec.phases[name] = self.phase(name, key_node, value)
        self.artifacts(root.get("artifacts"), spec)
        self.reports(root.get("reports"), spec)
        self.cache(root.get("cache"), spec)
        if root.get("batch") is not None:
            spec.batch = self.batch(root.get("batch"))
        return spec

    def env(self, root: YMap, spec: Buildspec) -> None:
        env = spec.env
        old = self.mapping(root.get("environment_variables"), "environment_variables")
        if old is not None:  # version 0.1
            self.keys(old, "environment_variables", ("plaintext",))
            env.variables.update(self.str_map(old.get("plaintext"), "plaintext variables"))
        node = self.mapping(root.get("env"), "env")
        if node is None:
            return
        self.keys(
            node,
            "env",
            (
                "shell",
                "variables",
                "parameter-store",
                "secrets-manager",
                "exported-variables",
                "git-credential-helper",
            ),
        )
        env.shell = self.scalar(node.get("shell"), "env.shell")
        if env.shell is not None and env.shell not in ("bash", "/bin/sh", "sh"):
            self.warn(
                node.get("shell"),
                f"env.shell {env.shell!r}: Linux images take bash or "
                "/bin/sh; it will be run as given",
            )
        env.variables.update(self.str_map(node.get("variables"), "env.variables"))
        env.parameter_store = self.str_map(node.get("parameter-store"), "env.parameter-store")
        env.secrets_manager = self.str_map(node.get("secrets-manager"), "env.secrets-manager")
        exported = node.get("exported-variables")
        env.exported_variables = self.str_list(exported, "env.exported-variables")
        for name in env.exported_variables:
            if name.startswith("AWS_"):
                # reference: names starting AWS_ cannot be exported
                self.error(
                    exported, f"exported variable {name!r}: names starting AWS_ cannot be exported"
                )
        env.git_credential_helper = self.boolean(
            node.get("git-credential-helper"), "env.git-credential-helper"
        )

    def phase(self, name: str, key_node: YScalar, node: YNode) -> PhaseSpec:
        phase = PhaseSpec(name, line=key_node.line, col=key_node.col)
        mapping = self.mapping(node, f"phases.{name}")
        if mapping is None:
            return phase
        known = ("run-as", "on-failure", "commands", "finally")
        if name == "install":
            known += ("runtime-versions",)
        elif "runtime-versions" in mapping.entries:
            self.error(
                mapping.entries["runtime-versions"][0],
                "runtime-versions is only allowed in the install phase",
            )
        self.keys(mapping, f"phases.{name}", known)
        phase.run_as = self.scalar(mapping.get("run-as"), f"phases.{name}.run-as")
        failure = self.scalar(mapping.get("on-failure"), f"phases.{name}.on-failure")
        if failure is not None:
            try:
                phase.on_failure = parse_on_failure(failure)
            except ValueError as exc:
                self.error(mapping.get("on-failure"), str(exc))
        phase.commands = self.commands(mapping.get("commands"), f"phases.{name}.commands")
        phase.finally_ = self.commands(mapping.get("finally"), f"phases.{name}.finally")
        phase.runtime_versions = self.str_map(
            mapping.get("runtime-versions"), "install.runtime-versions"
        )
        return phase

    _ARTIFACT_KEYS = (
        "files",
        "name",
        "discard-paths",
        "base-directory",
        "exclude-paths",
        "enable-symlinks",
        "s3-prefix",
    )

    def artifact(self, node: YNode | None, identifier: str | None, where: str) -> ArtifactSpec:
        mapping = self.mapping(node, where)
        art = ArtifactSpec(identifier, line=node.line if node else 0, col=node.col if node else 0)
        if mapping is None:
            return art
        known = self._ARTIFACT_KEYS + (
            ("secondary-artifacts", "type") if identifier is None else ()
        )
        self.keys(mapping, where, known)
        files = mapping.get("files")
        if files is None:
            # reference: artifacts.files is required even with only secondary artifacts
            self.error(mapping, f"{where}.files is required")
        art.files = self.str_list(files, f"{where}.files")
        art.name = self.scalar(mapping.get("name"), f"{where}.name")
        art.discard_paths = self.boolean(mapping.get("discard-paths"), f"{where}.discard-paths")
        art.base_directory = self.scalar(mapping.get("base-directory"), f"{where}.base-directory")
        art.exclude_paths = self.str_list(mapping.get("exclude-paths"), f"{where}.exclude-paths")
        art.enable_symlinks = self.boolean(
            mapping.get("enable-symlinks"), f"{where}.enable-symlinks"
        )
        art.s3_prefix = self.scalar(mapping.get("s3-prefix"), f"{where}.s3-prefix")
        return art

    def artifacts(self, node: YNode | None, spec: Buildspec) -> None:
        mapping = self.mapping(node, "artifacts")
        if mapping is None:
            return
        spec.artifacts = self.artifact(mapping, None, "artifacts")
        secondary = self.mapping(mapping.get("secondary-artifacts"), "secondary-artifacts")
        if secondary is not None:
            for ident, (_, value) in secondary.entries.items():
                spec.secondary_artifacts[ident] = self.artifact(
                    value, ident, f"secondary-artifacts.{ident}"
                )

    def reports(self, node: YNode | None, spec: Buildspec) -> None:
        mapping = self.mapping(node, "reports")
        if mapping is None:
            return
        for name, (key_node, value) in mapping.entries.items():
            where = f"reports.{name}"
            group = ReportGroupSpec(name, line=key_node.line, col=key_node.col)
            body = self.mapping(value, where)
            if body is not None:
                self.keys(body, where, ("files", "base-directory", "discard-paths", "file-format"))
                group.files = self.str_list(body.get("files"), f"{where}.files")
                group.base_directory = self.scalar(body.get("base-directory"), where)
                group.discard_paths = self.boolean(body.get("discard-paths"), where)
                fmt = self.scalar(body.get("file-format"), f"{where}.file-format")
                if fmt is not None:
                    if fmt.upper() not in TEST_FORMATS + COVERAGE_FORMATS:
                        self.error(body.get("file-format"), f"unknown report file-format {fmt!r}")
                    else:
                        group.file_format = fmt.upper()
            if not group.files:
                self.error(key_node, f"{where}.files is required")
            spec.reports[name] = group

    def cache(self, node: YNode | None, spec: Buildspec) -> None:
        mapping = self.mapping(node, "cache")
        if mapping is None:
            return
        self.keys(mapping, "cache", ("paths", "key", "fallback-keys", "action"))
        cache = CacheSpec(
            paths=self.str_list(mapping.get("paths"), "cache.paths"),
            key=self.scalar(mapping.get("key"), "cache.key"),
            fallback_keys=self.str_list(mapping.get("fallback-keys"), "cache.fallback-keys"),
            action=self.scalar(mapping.get("action"), "cache.action"),
        )
        if cache.action is not None and cache.action.lower() not in ("restore", "save"):
            self.error(
                mapping.get("action"), f"cache.action must be restore or save, not {cache.action!r}"
            )
        if len(cache.fallback_keys) > 5:
            self.error(mapping.get("fallback-keys"), "cache.fallback-keys takes at most 5 keys")
        spec.cache = cache

    def task(self, node: YNode, where: str, identifier: str | None = None) -> BatchTask:
        mapping = self.mapping(node, where)
        task = BatchTask(identifier or "", line=node.line, col=node.col)
        if mapping is None:
            return task
        self.keys(
            mapping,
            where,
            ("identifier", "buildspec", "depend-on", "ignore-failure", "env", "debug-session"),
        )
        ident = self.scalar(mapping.get("identifier"), f"{where}.identifier")
        if identifier is None:
            if not ident:
                self.error(node, f"{where}: identifier is required")
            elif not re.fullmatch(r"[A-Za-z0-9_]+", ident):
                self.error(
                    mapping.get("identifier"),
                    f"batch identifier {ident!r}: letters, digits and underscores only",
                )
            task.identifier = ident or ""
        task.buildspec = self.scalar(mapping.get("buildspec"), f"{where}.buildspec")
        task.depend_on = self.str_list(mapping.get("depend-on"), f"{where}.depend-on")
        task.ignore_failure = self.boolean(mapping.get("ignore-failure"), f"{where}.ignore-failure")
        task.debug_session = self.boolean(mapping.get("debug-session"), where)
        env = self.mapping(mapping.get("env"), f"{where}.env")
        if env is not None:
            self.keys(
                env,
                f"{where}.env",
                ("compute-type", "image", "type", "privileged-mode", "variables", "fleet"),
            )
            task.compute_type = self.scalar(env.get("compute-type"), f"{where}.env.compute-type")
            task.image = self.scalar(env.get("image"), f"{where}.env.image")
            task.env_type = self.scalar(env.get("type"), f"{where}.env.type")
            if env.get("privileged-mode") is not None:
                task.privileged_mode = self.boolean(env.get("privileged-mode"), where)
            task.env_variables = self.str_map(env.get("variables"), f"{where}.env.variables")
        return task

    def batch(self, node: YNode | None) -> BatchSpec | None:
        mapping = self.mapping(node, "batch")
        if mapping is None:
            return None
        kinds = ("build-list", "build-graph", "build-matrix", "build-fanout")
        self.keys(mapping, "batch", ("fast-fail",) + kinds)
        present = [k for k in kinds if k in mapping.entries]
        if len(present) != 1:
            self.error(
                mapping,
                "batch needs exactly one of build-list, build-graph, build-matrix, build-fanout",
            )
            if not present:
                return None
        kind = present[0]
        spec = BatchSpec(kind, line=mapping.line, col=mapping.col)
        spec.fast_fail = self.boolean(mapping.get("fast-fail"), "batch.fast-fail")
        body = mapping.get(kind)
        if kind in ("build-list", "build-graph"):
            if not isinstance(body, YSeq):
                self.error(body, f"batch.{kind} must be a list of tasks")
                return spec
            for i, item in enumerate(body.items):
                spec.tasks.append(self.task(item, f"batch.{kind}[{i}]"))
            seen: set[str] = set()
            for task in spec.tasks:
                if task.identifier in seen:
                    self.error(
                        YScalar(task.line, task.col, "", True),
                        f"duplicate batch identifier {task.identifier!r}",
                    )
                seen.add(task.identifier)
            if kind == "build-list":
                for task in spec.tasks:
                    if task.depend_on:
                        self.warn(
                            YScalar(task.line, task.col, "", True),
                            "depend-on is ignored in a build-list",
                        )
        elif kind == "build-matrix":
            matrix = self.mapping(body, "batch.build-matrix")
            if matrix is None:
                return spec
            self.keys(matrix, "batch.build-matrix", ("static", "dynamic"))
            if matrix.get("static") is not None:
                spec.matrix_static = self.task(matrix.get("static"), "build-matrix.static", "")
            dynamic = self.mapping(matrix.get("dynamic"), "build-matrix.dynamic")
            if dynamic is not None:
                self.keys(dynamic, "build-matrix.dynamic", ("buildspec", "env"))
                spec.matrix_buildspecs = self.str_list(dynamic.get("buildspec"), "buildspec")
                denv = self.mapping(dynamic.get("env"), "build-matrix.dynamic.env")
                if denv is not None:
                    self.keys(
                        denv,
                        "build-matrix.dynamic.env",
                        ("image", "compute-type", "variables", "type"),
                    )
                    spec.matrix_images = self.str_list(denv.get("image"), "env.image")
                    spec.matrix_compute_types = self.str_list(
                        denv.get("compute-type"), "env.compute-type"
                    )
                    variables = self.mapping(denv.get("variables"), "dynamic.env.variables")
                    if variables is not None:
                        for name, (_, values) in variables.entries.items():
                            spec.matrix_variables[name] = self.str_list(values, name)
        else:  # build-fanout
            fanout = self.mapping(body, "batch.build-fanout")
            if fanout is None:
                return spec
            self.keys(fanout, "batch.build-fanout", ("parallelism", "ignore-failure"))
            text = self.scalar(fanout.get("parallelism"), "build-fanout.parallelism")
            if text is None or not text.isdigit() or int(text) < 1:
                self.error(
                    fanout.get("parallelism") or fanout,
                    "build-fanout.parallelism must be a positive integer",
                )
            else:
                spec.fanout_parallelism = int(text)
        return spec


def parse_buildspec(
    text: str, path: str = "buildspec.yml"
) -> tuple[Buildspec | None, list[Diagnostic]]:
    """Parse buildspec text; returns the model (None if unusable) and every diagnostic."""
    parser = _Parser(path)
    try:
        root = compose_text(text)
    except YamlLoadError as exc:
        return None, [Diagnostic(path, exc.line, exc.col, exc.message)]
    spec = parser.parse(root)
    return spec, parser.diags


def locate_buildspec(src: Path, name: str | None = None) -> Path:
    """The buildspec file in source `src`: `name` (relative to src, or absolute), by default
    buildspec.yml, else buildspec.yaml when only that one exists."""
    path = Path(name or "buildspec.yml")
    if not path.is_absolute():
        path = src / path
        if name is None and not path.exists() and (src / "buildspec.yaml").exists():
            path = src / "buildspec.yaml"
    return path


def load_buildspec(path: str | Path, text: str | None = None) -> Buildspec:
    """Load and check a buildspec; raise `BuildspecError` listing every error found."""
    path = str(path)
    if text is None:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise CiwbError(f"cannot read buildspec {path}: {exc.strerror}") from None
        text = raw.decode("utf-8-sig", errors="replace")
    spec, diags = parse_buildspec(text, path)
    errors = [d for d in diags if d.severity == "error"]
    if errors or spec is None:
        raise BuildspecError(errors)
    spec.warnings = [d for d in diags if d.severity == "warning"]
    return spec


def validate_files(paths: list[str | Path]) -> list[Diagnostic]:
    """Every diagnostic for every file (unreadable files are an error at 1:1)."""
    out: list[Diagnostic] = []
    for path in paths:
        try:
            text = Path(path).read_bytes().decode("utf-8-sig", errors="replace")
        except OSError as exc:
            out.append(Diagnostic(str(path), 1, 1, f"cannot read: {exc.strerror}"))
            continue
        out.extend(parse_buildspec(text, str(path))[1])
    return out
