"""check_binary against real `go build` output of the zot-shaped fixture module."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from release.errors import CommandError, VerificationError
from release.inspect import Expected, can_run_here, check_binary
from release.runner import Runner

pytestmark = pytest.mark.integration

BUILDINFO = "zotregistry.dev/zot/v2/pkg/buildinfo"
RELEASE_TAG = "v2.1.0"
# zot's default EXTENSIONS, sorted as its Makefile sorts them for -tags.
FULL_TAGS = tuple(
    sorted(
        [
            *("sync", "search", "scrub", "metrics", "lint", "ui"),
            *("mgmt", "profile", "userprefs", "imagetrust", "events"),
        ]
    )
)


@pytest.fixture(scope="module")
def runner() -> Runner:
    # The default GOCACHE is shared by the whole session and across runs; the
    # fixture module has no dependencies, so the proxy is switched off to
    # prove the build needs no network.
    return Runner(env={"GOTOOLCHAIN": "local", "GOPROXY": "off"})


@pytest.fixture(scope="module")
def commit(zot_source: Path, runner: Runner) -> str:
    described = runner.run(["git", "describe", "--always", "--tags", "--long"], cwd=zot_source)
    return described.stdout.strip()


@pytest.fixture(scope="module")
def go_version(runner: Runner) -> str:
    return runner.run(["go", "env", "GOVERSION"]).stdout.strip()


def go_build(
    runner: Runner,
    source: Path,
    out: Path,
    expected: Expected,
    go_version: str,
) -> Path:
    """Build cmd/zot the way zot's Makefile builds a release binary."""
    ldflags = " ".join(
        [
            "-s -w",
            f"-X {BUILDINFO}.ReleaseTag={expected.release_tag}",
            f"-X {BUILDINFO}.Commit={expected.commit}",
            f"-X {BUILDINFO}.BinaryType={expected.binary_type}",
            f"-X {BUILDINFO}.GoVersion={go_version}",
        ]
    )
    tags = ["-tags", ",".join(expected.tags)] if expected.tags else []
    flags = ["-buildmode=pie", "-trimpath", *tags, "-ldflags", ldflags]
    runner.run(
        ["go", "build", "-o", out, *flags, "./cmd/zot"],
        cwd=source,
        env={
            "CGO_ENABLED": "0",
            "GOEXPERIMENT": "jsonv2",
            "GOOS": expected.goos,
            "GOARCH": expected.goarch,
        },
    )
    return out


def minimal(goos: str, goarch: str, commit: str) -> Expected:
    return Expected(
        goos=goos,
        goarch=goarch,
        tags=(),
        release_tag=RELEASE_TAG,
        commit=commit,
        binary_type="minimal",
    )


@pytest.fixture
def full_expected(commit: str) -> Expected:
    return Expected(
        goos="linux",
        goarch="amd64",
        tags=FULL_TAGS,
        release_tag=RELEASE_TAG,
        commit=commit,
        binary_type="-" + "-".join(FULL_TAGS),  # zot's "extended name"
    )


@pytest.fixture
def full_source(zot_source, ui_bundle, tmp_path) -> Path:
    # A copy, so the session's checkout keeps having no UI bundle.
    source = tmp_path / "zot"
    shutil.copytree(zot_source, source)
    shutil.copytree(ui_bundle, source / "pkg" / "extensions" / "build")
    return source


@pytest.fixture
def full_build(full_source, tmp_path, runner, full_expected, go_version) -> Path:
    return go_build(runner, full_source, tmp_path / "zot-linux-amd64", full_expected, go_version)


@pytest.fixture(scope="module")
def minimal_builds(zot_source, tmp_path_factory, runner, commit, go_version) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("minimal")
    return {
        f"{goos}-{goarch}": go_build(
            runner,
            zot_source,
            out / f"zot-{goos}-{goarch}-minimal",
            minimal(goos, goarch, commit),
            go_version,
        )
        for goos, goarch in (("linux", "arm64"), ("darwin", "arm64"))
    }


def test_full_linux_amd64_build_passes_every_check(full_build, full_expected, runner):
    assert can_run_here("linux", "amd64"), "this test expects to run the binary it built"
    check_binary(full_build, full_expected, runner=runner)


@pytest.mark.parametrize(("goos", "goarch"), [("linux", "arm64"), ("darwin", "arm64")])
def test_minimal_cross_builds_pass_the_checks_that_need_no_running(
    minimal_builds, commit, runner, goos, goarch
):
    check_binary(minimal_builds[f"{goos}-{goarch}"], minimal(goos, goarch, commit), runner=runner)


def test_check_names_the_architecture_a_binary_was_really_built_for(
    minimal_builds, commit, runner
):
    wrong = minimal("linux", "amd64", commit)
    with pytest.raises(VerificationError) as caught:
        check_binary(minimal_builds["linux-arm64"], wrong, runner=runner)
    assert str(caught.value) == (
        "zot-linux-arm64-minimal: go version -m says GOARCH=arm64, expected amd64;"
        " header says ELF aarch64, expected ELF x86-64"
    )


def test_check_names_the_tags_a_full_build_really_has(full_build, full_expected, runner):
    without_ui = replace(full_expected, tags=tuple(t for t in FULL_TAGS if t != "ui"))
    with pytest.raises(VerificationError) as caught:
        check_binary(full_build, without_ui, runner=runner)
    assert str(caught.value) == (
        f"zot-linux-amd64: go version -m says -tags={','.join(FULL_TAGS)},"
        f" expected {','.join(without_ui.tags)}"
    )


def test_check_names_the_commit_a_binary_really_reports(full_build, full_expected, commit, runner):
    elsewhere = replace(full_expected, commit=f"{RELEASE_TAG}-1-g0123456")
    with pytest.raises(VerificationError) as caught:
        check_binary(full_build, elsewhere, runner=runner)
    assert str(caught.value) == (
        f"zot-linux-amd64: --version says commit={commit}, expected {RELEASE_TAG}-1-g0123456"
    )


def test_full_build_without_the_ui_bundle_fails_to_compile(
    zot_source, tmp_path, runner, full_expected, go_version
):
    # This is why the pipeline checks the UI bundle before building anything.
    assert not (zot_source / "pkg" / "extensions" / "build").exists()
    with pytest.raises(CommandError) as caught:
        go_build(runner, zot_source, tmp_path / "zot-linux-amd64", full_expected, go_version)
    assert "pattern build/*: no matching files found" in caught.value.output
