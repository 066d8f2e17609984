"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from release.runner import Runner

FIXTURE_MODULE = Path(__file__).parent / "fixtures" / "zotshaped"
RELEASE_TAG = "v2.1.0"

# Fixed identity and dates make the commit hash, and so `git describe`, the
# same on every run and every machine.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Release Test",
    "GIT_AUTHOR_EMAIL": "release-test@example.invalid",
    "GIT_AUTHOR_DATE": "2025-01-02T03:04:05+00:00",
    "GIT_COMMITTER_NAME": "Release Test",
    "GIT_COMMITTER_EMAIL": "release-test@example.invalid",
    "GIT_COMMITTER_DATE": "2025-01-02T03:04:05+00:00",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(scope="session")
def zot_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git checkout of the zot-shaped module, one commit tagged v2.1.0."""
    source = tmp_path_factory.mktemp("zot-source") / "zot"
    shutil.copytree(FIXTURE_MODULE, source, ignore=shutil.ignore_patterns("build", "__pycache__"))

    git = Runner(env=_GIT_ENV)
    git.run(["git", "init", "--quiet", "--initial-branch=main"], cwd=source)
    git.run(["git", "add", "--all"], cwd=source)
    git.run(["git", "commit", "--quiet", "--message", "zot-shaped fixture"], cwd=source)
    git.run(["git", "tag", "--annotate", RELEASE_TAG, "--message", RELEASE_TAG], cwd=source)
    return source


@pytest.fixture
def ui_bundle(tmp_path: Path) -> Path:
    """A directory shaped like zui's build output: index.html and one asset."""
    bundle = tmp_path / "ui-bundle"
    (bundle / "static" / "js").mkdir(parents=True)
    (bundle / "index.html").write_text(
        '<!doctype html><html><body><script src="/static/js/main.js"></script></body></html>\n'
    )
    (bundle / "static" / "js" / "main.js").write_text('console.log("zui");\n')
    return bundle
