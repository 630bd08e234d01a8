"""Replay semantics checked against what CodeBuild does with real buildspecs.

- Compound commands run as written under dash and bash, locally and in both containers: a
  subshell keeps its redirect (dash once lost it when ciwb wrapped each command in a
  redirected brace group), here-documents, pipelines, `&&`/`||` chains and block scalars
  produce exactly the files they must.
- `on-failure`: none → the transition table; ABORT → straight to FINALIZING; CONTINUE → the
  next phase.
- `ciwb replay run --json` prints absolute paths.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from ciwb.replay import ExecutorOptions
from support.replay import log_text, phase_statuses
from support.tiers import needs_docker, needs_qemu

# (name, the commands as written (a `>` first line: a folded scalar), {file: exact content})
FAMILY = [
    ("subshell redirect", ["(echo two) > out/two.txt"], {"two.txt": "two\n"}),
    (
        "subshell || fallback redirect",
        ["(cat missing.txt 2>/dev/null || echo fallback) > out/mem.txt"],
        {"mem.txt": "fallback\n"},
    ),
    (
        "subshell cd && redirect",
        ["(cd sub && echo made > ../out/made.txt && pwd) > out/where.txt"],
        {"made.txt": "made\n", "where.txt": "<src>/sub\n"},
    ),
    ("brace group redirect", ["{ echo a; echo b; } > out/brace.txt"], {"brace.txt": "a\nb\n"}),
    (
        # dash itself (0.5.12, as a script file too) drops this inner redirect: ciwb must do
        # what the shell does with the command as written, bug included
        "subshell inside a redirected brace group",
        ["{ (echo inner) > out/inner.txt; } > out/outer.txt"],
        {
            "inner.txt": "inner\n",
            "outer.txt": "",
            "dash": {"inner.txt": None, "outer.txt": "inner\n"},
        },
    ),
    (
        "here-document",
        ["cat > out/heredoc.txt <<'EOF'\nkeep $HOME as written\nEOF"],
        {"heredoc.txt": "keep $HOME as written\n"},
    ),
    (
        "here-document into a subshell",
        ["(tr a-z A-Z) > out/upper.txt <<EOF\nshout\nEOF"],
        {"upper.txt": "SHOUT\n"},
    ),
    ("pipeline", ["printf 'b\\na\\n' | sort > out/sorted.txt"], {"sorted.txt": "a\nb\n"}),
    (
        "subshell in a pipeline",
        ["(echo 1; echo 2) | tail -n 1 > out/last.txt"],
        {"last.txt": "2\n"},
    ),
    (
        "&& / || chain",
        ["false || echo or > out/chain.txt && echo and >> out/chain.txt"],
        {"chain.txt": "or\nand\n"},
    ),
    (
        "multi-line block scalar",
        [
            'for i in 1 2 3; do\n  echo "n$i"\ndone > out/loop.txt\n'
            "if [ -s out/loop.txt ]; then (echo yes) > out/if.txt; fi"
        ],
        {"loop.txt": "n1\nn2\nn3\n", "if.txt": "yes\n"},
    ),
    ("folded block scalar", [">(echo folded)\n> out/folded.txt"], {"folded.txt": "folded\n"}),
    (
        "command substitution of a subshell",
        ['echo "$( (echo sub) )" > out/subst.txt'],
        {"subst.txt": "sub\n"},
    ),
    (
        "stdin is empty",
        ["cat > out/stdin.txt; read line || echo eof > out/eof.txt"],
        {"stdin.txt": "", "eof.txt": "eof\n"},
    ),
    (
        "cd persists to the next command",
        ["cd sub", "(echo here) > ../out/persist.txt", "cd .."],
        {"persist.txt": "here\n"},
    ),
]


def _yaml_item(command: str) -> str:
    style, text = (">-", command[1:]) if command.startswith(">") else ("|-", command)
    return f"      - {style}\n" + textwrap.indent(text, " " * 8)


def _family_buildspec(shell: str) -> str:
    commands = "\n".join(_yaml_item(c) for _, items, _ in FAMILY for c in items)
    return (
        "version: 0.2\n"
        f"env:\n  shell: {shell}\n"
        "phases:\n  build:\n    commands:\n"
        "      - mkdir -p out sub\n"
        f"{commands}\n"
        "artifacts:\n  files: ['out/*']\n  discard-paths: yes\n"
    )


def _produced(result) -> dict[str, str]:
    (artifact,) = result.artifacts
    with zipfile.ZipFile(artifact.zip_path) as zf:
        return {name: zf.read(name).decode() for name in zf.namelist()}


def _expected(files: dict, shell_kind: str) -> dict[str, str | None]:
    """The files a member must leave (None: must not exist) under this shell."""
    out = {k: v for k, v in files.items() if k not in ("dash", "bash")}
    out.update(files.get(shell_kind, {}))
    return out


def _check_family(produced: dict[str, str], src_dir: str, shell_kind: str) -> dict[str, str]:
    """Per member: 'ok' or what went wrong (so one failure names every broken member)."""
    outcomes = {}
    for name, _, files in FAMILY:
        wrong = [
            f"{file}: {produced.get(file)!r}"
            for file, content in _expected(files, shell_kind).items()
            if produced.get(file)
            != (content.replace("<src>", src_dir) if content is not None else None)
        ]
        outcomes[name] = "ok" if not wrong else "; ".join(wrong)
    return outcomes


def _as_a_script(shell: str, tmp_path: Path) -> dict[str, str]:
    """The oracle: the same commands as lines of one script file, run by the shell itself."""
    work = tmp_path / "oracle"
    (work / "out").mkdir(parents=True)
    (work / "sub").mkdir()
    script = "\n".join(
        (c[1:].replace("\n", " ") if c.startswith(">") else c)
        for _, items, _ in FAMILY
        for c in items
    )
    (work / "script.sh").write_text(script + "\n")
    argv = ["bash"] if shell == "bash" else [shell]
    subprocess.run([*argv, "script.sh"], cwd=work, stdin=subprocess.DEVNULL, check=True, timeout=60)
    return {p.name: p.read_text() for p in (work / "out").iterdir()}


def _shells() -> list:
    dash_sh = os.path.realpath("/bin/sh").endswith("dash")
    return [
        pytest.param(
            "/bin/sh",
            marks=pytest.mark.skipif(not dash_sh, reason="/bin/sh is not dash on this host"),
            id="dash",
        ),
        pytest.param(
            "bash",
            marks=pytest.mark.skipif(not shutil.which("bash"), reason="no bash"),
            id="bash",
        ),
    ]


@pytest.mark.parametrize("shell", _shells())
def test_compound_commands_run_as_written_locally(replay, tmp_path, shell):
    result = replay(_family_buildspec(shell), name=f"family-{Path(shell).name}")
    assert result.status == "SUCCEEDED", log_text(result)
    kind = "bash" if shell == "bash" else "dash"
    produced = _produced(result)
    assert _check_family(produced, _src_dir(result), kind) == {n: "ok" for n, _, _ in FAMILY}
    oracle = _as_a_script(shell, tmp_path)
    where = "where.txt"  # holds the directory, which differs between the two runs
    assert {k: v for k, v in produced.items() if k != where} == {
        k: v for k, v in oracle.items() if k != where
    }


def _src_dir(result) -> str:
    for line in log_text(result).splitlines():
        if "CODEBUILD_SRC_DIR=" in line:
            return line.split("CODEBUILD_SRC_DIR=", 1)[1].strip()
    raise AssertionError("the log names no CODEBUILD_SRC_DIR")


@pytest.mark.docker
@needs_docker
@needs_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("arch", ["amd64", "arm64"])
@pytest.mark.parametrize("shell", ["/bin/sh", "bash"], ids=["dash", "bash"])
def test_compound_commands_run_as_written_in_containers(replay, arch, shell):
    result = replay(
        _family_buildspec(shell),
        executor=ExecutorOptions("docker", arch=arch, compute="small"),
        name=f"family-{arch}-{Path(shell).name}",
    )
    assert result.status == "SUCCEEDED", log_text(result)
    kind = "bash" if shell == "bash" else "dash"  # Debian's /bin/sh in the base images
    assert _check_family(_produced(result), "/codebuild/output/src", kind) == {
        n: "ok" for n, _, _ in FAMILY
    }


# ---------------------------------------------------------------------- on-failure

ON_FAILURE = """\
version: 0.2
phases:
  install:
    {install_on_failure}
    commands: ["{install}"]
  pre_build:
    commands: [echo pre-build-ran]
  build:
    {build_on_failure}
    commands: ["{build}"]
  post_build:
    commands: [echo post-build-ran]
artifacts:
  files: [buildspec.yml]
"""


def _on_failure(replay, mode: str | None, failing: str):
    def clause(phase):
        return f"on-failure: {mode}" if mode and phase == failing else ""

    spec = ON_FAILURE.format(
        install_on_failure=clause("install"),
        build_on_failure=clause("build"),
        install="false" if failing == "install" else "true",
        build="false" if failing == "build" else "true",
    )
    result = replay(spec, name=f"{mode or 'none'}-{failing}")
    ran = [p for p in phase_statuses(result) if p not in ("SUBMITTED", "QUEUED")]
    return result, ran


@pytest.mark.parametrize(
    ("mode", "failing", "expected"),
    [
        # no on-failure: the transition table
        (
            None,
            "build",
            [
                "PROVISIONING",
                "DOWNLOAD_SOURCE",
                "INSTALL",
                "PRE_BUILD",
                "BUILD",
                "POST_BUILD",
                "UPLOAD_ARTIFACTS",
                "FINALIZING",
                "COMPLETED",
            ],
        ),
        (
            None,
            "install",
            ["PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "FINALIZING", "COMPLETED"],
        ),
        # ABORT: straight to FINALIZING, even after BUILD
        (
            "ABORT",
            "build",
            [
                "PROVISIONING",
                "DOWNLOAD_SOURCE",
                "INSTALL",
                "PRE_BUILD",
                "BUILD",
                "FINALIZING",
                "COMPLETED",
            ],
        ),
        (
            "ABORT",
            "install",
            ["PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "FINALIZING", "COMPLETED"],
        ),
        # CONTINUE: the next phase, even after INSTALL
        (
            "CONTINUE",
            "build",
            [
                "PROVISIONING",
                "DOWNLOAD_SOURCE",
                "INSTALL",
                "PRE_BUILD",
                "BUILD",
                "POST_BUILD",
                "UPLOAD_ARTIFACTS",
                "FINALIZING",
                "COMPLETED",
            ],
        ),
        (
            "CONTINUE",
            "install",
            [
                "PROVISIONING",
                "DOWNLOAD_SOURCE",
                "INSTALL",
                "PRE_BUILD",
                "BUILD",
                "POST_BUILD",
                "UPLOAD_ARTIFACTS",
                "FINALIZING",
                "COMPLETED",
            ],
        ),
    ],
)
def test_on_failure_abort_continue_and_default(replay, mode, failing, expected):
    result, ran = _on_failure(replay, mode, failing)

    assert ran == expected
    assert result.status == "FAILED"
    assert phase_statuses(result)[failing.upper()] == "FAILED"
    text = log_text(result)
    assert ("\npost-build-ran" in text) == ("POST_BUILD" in expected)
    assert ("\npre-build-ran" in text) == ("PRE_BUILD" in expected)
    assert bool(result.artifacts) == ("UPLOAD_ARTIFACTS" in expected)


# ---------------------------------------------------------------------- --json paths


def test_replay_run_json_prints_absolute_paths(tmp_path):
    work = tmp_path / "work"
    src = work / "app"
    src.mkdir(parents=True)
    (src / "buildspec.yml").write_text(
        "version: 0.2\nphases:\n  build:\n    commands: ['echo hi > out.txt']\n"
        "artifacts:\n  files: [out.txt]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIWB_")}
    env["CIWB_HOME"] = str(tmp_path / "home")

    for extra in ([], ["--out", "rel-out", "--unpacked"]):
        run = subprocess.run(
            [sys.executable, "-m", "ciwb", "replay", "run", "app", "--json", *extra],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout)
        paths = [result["log"], result["out_dir"]] + [
            p for a in result["artifacts"] for p in (a["zip"], a["dir"]) if p
        ]
        assert len(paths) == (3 if not extra else 4)
        for path in paths:
            assert Path(path).is_absolute() and Path(path).exists(), path
        if extra:
            assert result["out_dir"].startswith(str(work / "rel-out"))
        else:  # replays go beside the store
            assert result["out_dir"].startswith(str(tmp_path / "home" / "replays"))
