"""Repo ids, revisions, commits and repo file paths: only the narrow safe forms pass."""

from __future__ import annotations

import pytest

from ivrimeet.errors import InvalidRepoIdError
from ivrimeet.models.repo_ids import (
    is_commit,
    validate_commit,
    validate_repo_file_path,
    validate_repo_id,
    validate_revision,
)

GOOD_REPOS = [
    "pyannote/speaker-diarization-3.1",
    "speechbrain/spkrec-ecapa-voxceleb",
    "org/name_with.dots-and_underscores",
    "A1/b",
]
HOSTILE_REPOS = [
    "",
    "single",
    "a/b/c",
    "../etc",
    "org/..",
    "org/../x",
    "/abs/path",
    "org/name\n",
    "org/na\x00me",
    "org/na me",
    "org/name;rm -rf",
    "org--x/name",
    "org/name--x",
    "org/.hidden",
    "org/name.",
    "org\\name",
    "https://evil.example/x",
    "org/" + "a" * 200,
]


@pytest.mark.parametrize("repo", GOOD_REPOS)
def test_published_style_repo_ids_are_accepted(repo: str) -> None:
    assert validate_repo_id(repo) == repo


@pytest.mark.parametrize("repo", HOSTILE_REPOS)
def test_hostile_repo_ids_are_refused(repo: str) -> None:
    with pytest.raises(InvalidRepoIdError, match="Refusing repo id"):
        validate_repo_id(repo)


@pytest.mark.parametrize("revision", ["main", "v1.0", "refs/pr/1", "a" * 40, "release_2024-01"])
def test_branch_tag_and_commit_revisions_are_accepted(revision: str) -> None:
    assert validate_revision(revision) == revision


@pytest.mark.parametrize(
    "revision", ["", "..", "main/../x", "/main", "main/", "a b", "x\n", "a//b", "main.lock", "@{1}"]
)
def test_hostile_revisions_are_refused(revision: str) -> None:
    with pytest.raises(InvalidRepoIdError):
        validate_revision(revision)


def test_only_full_lowercase_hex_is_a_commit() -> None:
    sha = "84fd5d0e" * 5
    assert is_commit(sha) and validate_commit(sha) == sha
    for bad in (sha[:-1], sha.upper(), sha + "0", "g" * 40, "main"):
        assert not is_commit(bad)
        with pytest.raises(InvalidRepoIdError):
            validate_commit(bad)


@pytest.mark.parametrize("path", ["config.yaml", "plda/plda.npz", "a/b/c.bin", "名前.txt"])
def test_relative_repo_paths_are_accepted(path: str) -> None:
    assert validate_repo_file_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "../secret",
        "a/../../b",
        "a/./b",
        "a//b",
        "a\\b",
        "a\x00b",
        "a\nb",
        "C:evil",
        "x" * 700,
    ],
)
def test_hostile_repo_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidRepoIdError, match="Refusing file path"):
        validate_repo_file_path(path)
