"""Real buildspecs through the real runner, in real /bin/sh and bash sessions."""

from __future__ import annotations

import os
import pwd
import shutil

import pytest

from support.replay import log_text, phase_statuses

ORDER = ["INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS"]


def _all_phases(fail: str) -> str:
    lines = ["version: 0.2", "phases:"]
    for phase in ("install", "pre_build", "build", "post_build"):
        cmd = "false" if phase == fail else f"echo ran-{phase}"
        lines += [f"  {phase}:", "    commands:", f"      - {cmd}"]
    lines += ["artifacts:", "  files: buildspec.yml"]
    return "\n".join(lines) + "\n"


# reference: "Phase transitions (no on-failure given)"
@pytest.mark.parametrize(
    "failing, ran, skipped",
    [
        ("install", [], ["PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS"]),
        ("pre_build", ["INSTALL"], ["BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS"]),
        ("build", ["INSTALL", "PRE_BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS"], []),
        ("post_build", ["INSTALL", "PRE_BUILD", "BUILD", "UPLOAD_ARTIFACTS"], []),
    ],
)
def test_failure_in_each_phase_follows_the_transition_table(replay, failing, ran, skipped):
    result = replay(_all_phases(failing))
    statuses = phase_statuses(result)
    assert result.status == "FAILED"
    assert statuses[failing.upper()] == "FAILED"
    for phase in ran:
        assert statuses[phase] == "SUCCEEDED", phase
    for phase in skipped:
        assert phase not in statuses, phase
    assert statuses["FINALIZING"] == "SUCCEEDED" and "COMPLETED" in statuses
    text = log_text(result)
    for phase in ("install", "pre_build", "build", "post_build"):
        assert (f"ran-{phase}" in text.replace("echo ran-", "")) == (phase.upper() in ran)


def test_upload_artifacts_failure_goes_to_finalizing(replay):
    result = replay(
        "version: 0.2\nphases:\n  build:\n    commands: [true]\n"
        "artifacts:\n  files: [does/not/exist]\n"
    )
    statuses = phase_statuses(result)
    assert statuses["UPLOAD_ARTIFACTS"] == "FAILED"
    assert result.status == "FAILED" and statuses["FINALIZING"] == "SUCCEEDED"
    assert "no matching artifact paths" in result.phases[-3].context_message


def test_finally_runs_after_a_failure_and_its_own_failure_fails_the_phase(replay):
    result = replay("""\
        version: 0.2
        phases:
          install:
            commands:
              - echo one
              - exit 4
              - echo skipped-command
            finally:
              - echo finally-ran
          build:
            commands: [echo fine]
            finally:
              - "false"
              - echo skipped-in-finally
        """)
    text = log_text(result)
    assert "finally-ran" in text
    assert "skipped-command" not in text.replace("Running command echo skipped-command", "")
    assert "Command did not exit successfully exit 4 exit status 4" in text
    assert phase_statuses(result)["INSTALL"] == "FAILED"
    assert "BUILD" not in phase_statuses(result)  # INSTALL failure → FINALIZING

    result = replay(
        """\
        version: 0.2
        phases:
          build:
            commands: [echo fine]
            finally:
              - "false"
              - echo skipped-in-finally
        """,
        name="app2",
    )
    assert phase_statuses(result)["BUILD"] == "FAILED"
    assert "\nskipped-in-finally" not in log_text(result)


def test_continue_goes_on_where_abort_stops(replay):
    spec = """\
        version: 0.2
        phases:
          install:
            on-failure: {mode}
            commands: ["false"]
          build:
            commands: [echo build-ran]
        """
    cont = replay(spec.format(mode="CONTINUE"), name="cont")
    abort = replay(spec.format(mode="ABORT"), name="abort")
    assert phase_statuses(cont)["BUILD"] == "SUCCEEDED"
    assert cont.status == "FAILED"  # the failed phase still fails the build
    assert "\nbuild-ran" in log_text(cont)
    assert "BUILD" not in phase_statuses(abort)


@pytest.mark.parametrize(
    "mode, attempts",
    [("RETRY", 4), ("RETRY-2", 3), ("RETRY-0", 1), ("retry-1-flak[ey]", 2), ("RETRY-nomatch", 1)],
)
def test_retry_counts(replay, tmp_path, mode, attempts):
    counter = tmp_path / f"count-{attempts}-{mode.replace('[', '').replace(']', '')}"
    result = replay(f"""\
        version: 0.2
        phases:
          build:
            on-failure: "{mode}"
            commands:
              - echo x >> {counter}
              - echo "flaky network"; false
        """)
    assert len(counter.read_text().splitlines()) == attempts
    assert phase_statuses(result)["BUILD"] == "FAILED"


def test_retry_stops_once_the_phase_succeeds(replay, tmp_path):
    counter = tmp_path / "n"
    result = replay(f"""\
        version: 0.2
        phases:
          build:
            on-failure: RETRY-5
            commands:
              - echo x >> {counter}
              - test $(wc -l < {counter}) -ge 3
        """)
    assert len(counter.read_text().splitlines()) == 3
    assert result.status == "SUCCEEDED"


def test_build_succeeding_as_post_build_sees_it(replay):
    spec = """\
        version: 0.2
        phases:
          build:
            commands: ["{cmd}"]
          post_build:
            commands:
              - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
        """
    ok = replay(spec.format(cmd="true"), name="ok")
    bad = replay(spec.format(cmd="false"), name="bad")
    assert "\nsucceeding=1" in log_text(ok)
    assert "\nsucceeding=0" in log_text(bad)


PERSIST = """\
    version: {version}
    phases:
      install:
        commands:
          - mkdir -p sub && cd sub
          - export FOO=bar
      build:
        commands:
          - echo "pwd=$(basename $PWD) foo=${{FOO:-unset}}"
    """


def test_version_02_keeps_cd_and_export_across_commands_and_phases(replay):
    text = log_text(replay(PERSIST.format(version="0.2")))
    assert "\npwd=sub foo=bar" in text


def test_version_01_uses_a_fresh_shell_per_command(replay):
    text = log_text(replay(PERSIST.format(version="0.1"), name="v01"))
    assert "\npwd=src foo=unset" in text  # the copy of the source is always .../src


def test_only_a_list_items_own_status_counts(replay):
    result = replay("version: 0.2\nphases:\n  build:\n    commands:\n      - false; true\n")
    assert result.status == "SUCCEEDED"


def test_exported_variables_are_values_at_the_end_of_post_build(replay):
    result = replay("""\
        version: 0.2
        env:
          exported-variables: [VERSION, NEVER_SET]
        phases:
          build:
            commands: [export VERSION=1.0]
          post_build:
            commands: ['VERSION="$VERSION-final"']
        """)
    assert result.exported == {"VERSION": "1.0-final", "NEVER_SET": ""}
    assert {"name": "VERSION", "value": "1.0-final"} in result.record[
        "exportedEnvironmentVariables"
    ]


def test_default_shell_is_sh_and_env_shell_bash_switches(replay):
    spec = (
        "version: 0.2\n{env}phases:\n  build:\n    commands:\n"
        "      - '[[ 1 == 1 ]] && echo BASH_OK'\n"
    )
    sh = replay(spec.format(env=""), name="sh")
    bash = replay(spec.format(env="env:\n  shell: bash\n"), name="bash")
    if os.path.realpath(shutil.which("sh")).endswith("bash"):
        pytest.skip("/bin/sh is bash here; cannot tell the shells apart")
    assert sh.status == "FAILED"
    assert bash.status == "SUCCEEDED" and "\nBASH_OK" in log_text(bash)


def test_a_syntax_error_fails_the_command_and_the_session_goes_on(replay):
    result = replay("""\
        version: 0.2
        phases:
          install:
            commands:
              - export KEEP=yes
          build:
            commands:
              - 'echo "unterminated'
          post_build:
            commands:
              - echo "keep=$KEEP"
        """)
    assert phase_statuses(result)["BUILD"] == "FAILED"
    assert "exit status 2" in log_text(result)
    assert "\nkeep=yes" in log_text(result)


def test_exit_in_a_command_fails_it_and_later_phases_still_run(replay):
    result = replay("""\
        version: 0.2
        phases:
          build:
            commands: [cd /tmp, exit 3]
          post_build:
            commands: [echo "post in $PWD"]
        """)
    assert "exit status 3" in log_text(result)
    assert "\npost in /tmp" in log_text(result)  # cwd restored in the new shell


@pytest.mark.skipif(os.geteuid() != 0, reason="run-as needs root to switch user")
def test_run_as_switches_user_for_the_build_and_per_phase(replay):
    user = "nobody"
    pwd.getpwnam(user)
    result = replay(f"""\
        version: 0.2
        run-as: {user}
        phases:
          install:
            run-as: root
            commands: [echo "install-as-$(id -un)"]
          build:
            commands: [echo "build-as-$(id -un)"]
        """)
    text = log_text(result)
    assert "\ninstall-as-root" in text
    assert f"\nbuild-as-{user}" in text


def test_run_as_an_unknown_user_is_a_clear_failure(replay):
    result = replay(
        "version: 0.2\nrun-as: no_such_user_ciwb\nphases:\n  build:\n    commands: [true]\n"
    )
    assert result.status == "FAILED"
    assert "no_such_user_ciwb" in log_text(result)


def test_set_x_traces_and_stdin_readers_do_not_confuse_the_session(replay):
    result = replay("""\
        version: 0.2
        env:
          exported-variables: [TAG]
        phases:
          install:
            commands:
              - set -x
              - cat
              - export TAG=v1
          build:
            commands:
              - echo "tag=$TAG"
              - mkdir -p out && touch out/app.bin
        artifacts:
          files: [out/app.bin]
          name: app-$TAG
        """)
    text = log_text(result)
    assert result.status == "SUCCEEDED", text
    assert "\ntag=v1" in text and "+ echo tag=v1" in text  # the user's own trace is kept
    assert "__CIWB" not in text  # ours is not
    assert result.exported == {"TAG": "v1"}
    assert result.artifacts[0].name == "app-v1"


def test_set_e_makes_a_later_failure_end_the_shell_with_its_status(replay):
    result = replay("""\
        version: 0.2
        phases:
          build:
            commands:
              - set -e
              - sh -c 'exit 6'
          post_build:
            commands: [echo post-ran]
        """)
    assert "exit status 6" in log_text(result)
    assert phase_statuses(result)["BUILD"] == "FAILED"
    assert "\npost-ran" in log_text(result)
