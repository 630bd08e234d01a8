"""Artifact selection: AWS's golden examples, exclusions, refusals, packaging."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from ciwb.errors import ArtifactError
from ciwb.replay.artifacts import select_files


@pytest.fixture
def golden_tree(tmp_path: Path) -> Path:
    # the tree of AWS's reference examples (reference "Globs")
    for rel in (
        "my-build-1/my-file-1.txt",
        "my-build-2/my-file-2.txt",
        "my-build-2/my-subdirectory/my-file-3.txt",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    return tmp_path


def test_golden_example_star_slash_file_under_a_base_directory(golden_tree):
    chosen = select_files(golden_tree, ["*/my-file-3.txt"], base_directory="my-build-2")
    assert sorted(chosen) == ["my-subdirectory/my-file-3.txt"]


def test_golden_example_trailing_star_base_directory_with_discard_paths(golden_tree):
    chosen = select_files(golden_tree, ["**/*"], base_directory="my-build*", discard_paths=True)
    assert sorted(chosen) == ["my-file-1.txt", "my-file-2.txt", "my-file-3.txt"]


def test_trailing_star_base_takes_contents_not_the_directories(golden_tree):
    chosen = select_files(golden_tree, ["**/*"], base_directory="my-build*")
    assert sorted(chosen) == ["my-file-1.txt", "my-file-2.txt", "my-subdirectory/my-file-3.txt"]


def test_single_star_stays_in_one_directory_double_star_crosses(golden_tree):
    assert sorted(select_files(golden_tree, ["my-build-2/*"])) == ["my-build-2/my-file-2.txt"]
    assert len(select_files(golden_tree, ["my-build-2/**/*"])) == 2
    assert len(select_files(golden_tree, ["**/*"])) == 3


def test_exclude_paths_are_relative_to_the_base_directory(golden_tree):
    one = select_files(golden_tree, ["**/*"], base_directory="my-build-2", exclude_paths=["*.txt"])
    assert sorted(one) == ["my-subdirectory/my-file-3.txt"]  # `*` stays in one component
    none = select_files(
        golden_tree, ["**/*"], base_directory="my-build-2", exclude_paths=["**/*.txt"]
    )
    assert none == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"files": ["../outside.txt"]},
        {"files": ["**/*"], "base_directory": "../"},
        {"files": ["**/*"], "base_directory": "/etc"},
        {"files": ["/etc/passwd"]},
    ],
)
def test_paths_outside_the_source_root_are_refused(golden_tree, kwargs):
    files = kwargs.pop("files")
    with pytest.raises(ArtifactError, match="outside|leaves"):
        select_files(golden_tree / "my-build-2", files, **kwargs)


def test_a_symlink_out_of_the_source_is_refused(golden_tree, tmp_path_factory):
    secret = tmp_path_factory.mktemp("elsewhere") / "secret.txt"
    secret.write_text("s")
    (golden_tree / "link.txt").symlink_to(secret)
    with pytest.raises(ArtifactError, match="outside"):
        select_files(golden_tree, ["*.txt"])


def test_replayed_artifacts_primary_secondary_names_and_unpacked(replay):
    result = replay(
        """\
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p out/docs && echo app > out/app.bin && echo doc > out/docs/index.html
              - export TAG=v7
        artifacts:
          files: ['**/*']
          base-directory: out
          exclude-paths: ['docs/**/*']
          name: app-$TAG-$(echo built)
          secondary-artifacts:
            docs:
              files: [out/docs/index.html]
              discard-paths: yes
        """,
        unpacked=True,
    )
    assert result.status == "SUCCEEDED"
    primary, docs = result.artifacts
    assert primary.name == "app-v7-built"
    assert zipfile.ZipFile(primary.zip_path).namelist() == ["app.bin"]
    assert (primary.dir_path / "app.bin").read_text() == "app\n"
    assert docs.identifier == "docs"
    assert zipfile.ZipFile(docs.zip_path).namelist() == ["index.html"]
    assert result.record["secondaryArtifacts"][0]["artifactIdentifier"] == "docs"


def test_the_users_checkout_is_never_written(replay, tmp_path):
    result = replay("""\
        version: 0.2
        phases:
          build:
            commands: [touch created-by-build, rm buildspec.yml]
        """)
    assert result.status == "SUCCEEDED"
    src = tmp_path / "app"
    assert sorted(p.name for p in src.iterdir()) == ["buildspec.yml"]
