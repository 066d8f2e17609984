"""The whole release, for real: the shipped matrix built with `go build`, pushed to
real registries on 127.0.0.1, pulled back and compared."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from release import pipeline
from release.errors import PublishError
from release.matrix import PublishSettings
from release.oci import ARTIFACT_TYPE
from release.record import ReleaseRecord
from release.registry import RegistryClient
from release.runner import Runner

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MATRIX = REPO / "matrix.yaml"
EIGHT = sorted(
    f"zot-{os_}-{arch}{suffix}"
    for os_ in ("linux", "darwin")
    for arch in ("amd64", "arm64")
    for suffix in ("", "-minimal")
)


@pytest.fixture(scope="module")
def built(zot_source, tmp_path_factory) -> Path:
    """The full matrix of the shipped matrix.yaml, built once for this module."""
    bundle = tmp_path_factory.mktemp("bundle")
    (bundle / "index.html").write_text("<!doctype html><title>zui</title>\n")
    work = tmp_path_factory.mktemp("work")
    request = pipeline.BuildRequest(
        matrix=MATRIX,
        source=str(zot_source),
        ui_bundle=str(bundle),
        dist=tmp_path_factory.mktemp("dist"),
    )
    prepared = pipeline.prepare(request, runner=Runner(), workdir=work)
    pipeline.build(prepared, runner=Runner())
    return prepared.outdir


def settings_for(address: str, namespace: str) -> PublishSettings:
    return PublishSettings(
        registry=address,
        namespace=namespace,
        tags=("{version}", "latest"),
        prerelease_tags=("{version}",),
    )


def copy_release(built: Path, tmp_path: Path) -> Path:
    directory = tmp_path / built.name
    shutil.copytree(built, directory)
    return directory


def test_build_writes_eight_binaries_checksums_and_record(built):
    record = ReleaseRecord.read(built)

    assert sorted(a.name for a in record.artifacts) == EIGHT
    assert sorted(p.name for p in built.iterdir() if p.name.startswith("zot-")) == EIGHT
    assert record.version == "v2.1.0"
    assert record.created == "2025-01-02T03:04:05Z"
    assert record.ui_bundle is not None
    assert len(record.ui_bundle["sha256"]) == 64
    for artifact in record.artifacts:
        assert artifact.size == (built / artifact.file).stat().st_size


def test_checksums_file_passes_sha256sum_check(built):
    lines = (built / "checksums.sha256.txt").read_text().splitlines()
    result = subprocess.run(
        ["sha256sum", "-c", "checksums.sha256.txt"],
        cwd=built,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split(" *")[1] for line in lines] == EIGHT
    assert result.stdout.count(": OK") == 8


def test_go_version_m_shows_each_targets_platform_and_tags(built):
    record = ReleaseRecord.read(built)
    for artifact in record.artifacts:
        info = subprocess.run(
            ["go", "version", "-m", built / artifact.file],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"GOOS={artifact.os}" in info
        assert f"GOARCH={artifact.arch}" in info
        assert "CGO_ENABLED=0" in info
        if artifact.extensions:
            assert f"-tags={','.join(artifact.extensions)}" in info
        else:
            assert "-tags=" not in info


@pytest.mark.parametrize("kind", ["oci", "distribution"])
def test_release_is_published_and_pulled_back_byte_identical(built, tmp_path, kind, request):
    server = request.getfixturevalue(f"{kind}_registry")
    directory = copy_release(built, tmp_path)
    settings = settings_for(server.address, f"pub-{kind}")
    client = RegistryClient(server.address, insecure=True)

    record = pipeline.publish_release(directory, settings, client)
    rows = pipeline.verify_release(directory, RegistryClient(server.address, insecure=True))

    assert [row.problem for row in rows] == [None] * 8
    assert all(a.tags == ("v2.1.0", "latest") for a in record.artifacts)
    fresh = RegistryClient(server.address, insecure=True)
    for artifact in record.artifacts:
        found = fresh.get_manifest(f"pub-{kind}/{artifact.name}", "v2.1.0")
        assert found is not None
        manifest = json.loads(found[0])
        assert found[1] == artifact.manifest_digest
        assert manifest["artifactType"] == ARTIFACT_TYPE
        assert manifest["layers"][0]["digest"] == f"sha256:{artifact.sha256}"
        annotations = manifest["annotations"]
        assert annotations["org.opencontainers.image.version"] == "v2.1.0"
        assert annotations["org.opencontainers.image.created"] == "2025-01-02T03:04:05Z"
        assert annotations["dev.zotregistry.release.os"] == artifact.os


def test_republishing_the_same_release_uploads_nothing_and_keeps_digests(
    built, tmp_path, oci_registry, caplog
):
    directory = copy_release(built, tmp_path)
    settings = settings_for(oci_registry.address, "again")
    first = pipeline.publish_release(
        directory, settings, RegistryClient(oci_registry.address, insecure=True)
    )

    caplog.clear()
    with caplog.at_level("INFO", logger="release.publish"):
        second = pipeline.publish_release(
            directory, settings, RegistryClient(oci_registry.address, insecure=True)
        )

    assert [a.manifest_digest for a in second.artifacts] == [
        a.manifest_digest for a in first.artifacts
    ]
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "uploaded" in m]
    assert len([m for m in messages if m.endswith("(unchanged)")]) == 8


def test_version_tag_naming_other_content_is_refused_before_any_push(
    built, tmp_path, distribution_registry
):
    address = distribution_registry.address
    settings = settings_for(address, "guarded")
    original = copy_release(built, tmp_path / "a")
    published = pipeline.publish_release(
        original, settings, RegistryClient(address, insecure=True)
    )
    # The same version from another commit time gives other manifests.
    other = copy_release(built, tmp_path / "b")
    record = ReleaseRecord.read(other)
    dataclasses.replace(record, created="2030-01-01T00:00:00Z").write(other)

    with pytest.raises(PublishError, match=r"guarded/zot-linux-amd64:v2\.1\.0 already names"):
        pipeline.publish_release(other, settings, RegistryClient(address, insecure=True))

    client = RegistryClient(address, insecure=True)
    for artifact in published.artifacts:
        found = client.get_manifest(f"guarded/{artifact.name}", "latest")
        assert found is not None
        assert found[1] == artifact.manifest_digest


def test_force_moves_a_version_tag_to_the_new_content(built, tmp_path, oci_registry):
    address = oci_registry.address
    settings = settings_for(address, "forced")
    pipeline.publish_release(
        copy_release(built, tmp_path / "a"), settings, RegistryClient(address, insecure=True)
    )
    other = copy_release(built, tmp_path / "b")
    record = ReleaseRecord.read(other)
    dataclasses.replace(record, created="2030-01-01T00:00:00Z").write(other)

    moved = pipeline.publish_release(
        other, settings, RegistryClient(address, insecure=True), force=True
    )

    client = RegistryClient(address, insecure=True)
    found = client.get_manifest("forced/zot-linux-amd64", "v2.1.0")
    assert found is not None
    assert found[1] == moved.artifact("zot-linux-amd64").manifest_digest


def test_a_binary_changed_after_the_build_is_not_published(built, tmp_path, oci_registry):
    directory = copy_release(built, tmp_path)
    with (directory / "zot-darwin-arm64").open("ab") as binary:
        binary.write(b"\0")
    client = RegistryClient(oci_registry.address, insecure=True)

    with pytest.raises(Exception, match=r"zot-darwin-arm64: sha256 differs from release\.json"):
        pipeline.publish_release(directory, settings_for(oci_registry.address, "changed"), client)

    assert client.get_manifest("changed/zot-linux-amd64", "v2.1.0") is None


# ---------------------------------------------------------------------------
# The command line, as a maintainer runs it.


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "release", args[0], "--matrix", str(MATRIX), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env={**os.environ, **(env or {})},
    )


def test_dry_run_publishes_the_eight_artifacts_and_verifies_them(zot_source, tmp_path, ui_bundle):
    summary = tmp_path / "summary.md"

    result = run_cli(
        "dry-run",
        "--source",
        str(zot_source),
        "--ui-bundle",
        str(ui_bundle),
        cwd=tmp_path,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )

    assert result.returncode == 0, result.stderr[-3000:]
    table = summary.read_text()
    for name in EIGHT:
        assert f"| {name} |" in table
    assert table.count("| yes |") == 8
    assert (tmp_path / "dist" / "v2.1.0" / "release.json").is_file()
    assert (tmp_path / "dist" / "v2.1.0.build.log").read_text().count("+ ") >= 8


def test_dry_run_refuses_a_registry_off_loopback(zot_source, tmp_path):
    result = run_cli("dry-run", "--source", str(zot_source), "--registry", "ghcr.io", cwd=tmp_path)

    assert result.returncode == 2
    assert "ghcr.io" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "dist").exists()


def test_missing_ui_bundle_stops_before_any_compile(zot_source, tmp_path):
    result = run_cli(
        "build",
        "--source",
        str(zot_source),
        "--ui-bundle",
        str(tmp_path / "nothing"),
        cwd=tmp_path,
    )

    assert result.returncode == 3
    assert "--ui-bundle" in result.stderr
    assert "no such directory or file" in result.stderr
    assert not (tmp_path / "dist").exists()


def test_bad_matrix_exits_2_with_one_line_and_builds_nothing(zot_source, tmp_path):
    bad = tmp_path / "matrix.yaml"
    bad.write_text(MATRIX.read_text().replace("arch: arm64}", "arch: arm65}", 1))

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "release",
            "build",
            "--matrix",
            str(bad),
            "--source",
            str(zot_source),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1) if "arm65" in text)
    assert f"matrix.yaml:{line}: platforms.1: linux/arm65 is not a platform Go can build" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "dist").exists()


def test_release_refuses_a_dirty_tree_that_a_dry_run_only_warns_about(zot_source, tmp_path):
    dirty = tmp_path / "zot"
    shutil.copytree(zot_source, dirty)
    with (dirty / "go.mod").open("a") as go_mod:
        go_mod.write("\n// local change\n")

    release = run_cli("release", "--source", str(dirty), "--list", cwd=tmp_path)
    dry = run_cli(
        "dry-run",
        "--source",
        str(dirty),
        "--list",
        "--targets",
        "linux-amd64-minimal",
        cwd=tmp_path,
    )

    assert release.returncode == 3
    assert "uncommitted changes" in release.stderr
    assert dry.returncode == 0, dry.stderr
    assert "warning" in dry.stderr
    assert "uncommitted changes" in dry.stderr


def test_go_older_than_go_mod_asks_is_refused_before_building(zot_source, tmp_path):
    newer = tmp_path / "zot"
    shutil.copytree(zot_source, newer)
    go_mod = newer / "go.mod"
    go_mod.write_text(go_mod.read_text().replace("go 1.24.0", "go 1.99.0"))

    result = run_cli(
        "build", "--source", str(newer), "--targets", "linux-amd64-minimal", cwd=tmp_path
    )

    assert result.returncode == 3
    assert "go line asks for 1.99.0" in result.stderr
    assert not (tmp_path / "dist").exists()


def test_publish_and_verify_commands_work_on_a_built_release(
    built, tmp_path, distribution_registry
):
    directory = copy_release(built, tmp_path)
    address = distribution_registry.address
    common = ["--registry", address, "--insecure", "--namespace", "cli"]

    published = run_cli("publish", str(directory), *common, cwd=tmp_path)
    verified = run_cli("verify", str(directory), *common, cwd=tmp_path)

    assert published.returncode == 0, published.stderr[-3000:]
    assert verified.returncode == 0, verified.stderr[-3000:]
    assert verified.stdout.count(" yes ") == 8
    record = ReleaseRecord.read(directory)
    assert {a.repository for a in record.artifacts} == {f"cli/{name}" for name in EIGHT}


def test_insecure_publish_to_a_remote_registry_is_refused(built, tmp_path):
    result = run_cli(
        "publish", str(built), "--registry", "registry.example.com", "--insecure", cwd=tmp_path
    )

    assert result.returncode == 2
    assert "registry.example.com" in result.stderr
    assert "Traceback" not in result.stderr


def test_list_shows_the_plan_without_fetching_or_changing_anything(zot_source, tmp_path):
    # A copy: other tests install the bundle into the shared checkout.
    source = tmp_path / "zot"
    shutil.copytree(zot_source, source, ignore=shutil.ignore_patterns("build"))

    result = run_cli("build", "--source", str(source), "--list", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    for name in EIGHT:
        assert name in result.stderr
    assert "events,imagetrust,lint,metrics,mgmt,profile,scrub,search,sync,ui,userprefs" in (
        result.stderr
    )
    assert not (source / "pkg" / "extensions" / "build").exists()
    assert not (tmp_path / "dist").exists()


def test_release_refuses_to_download_an_unpinned_ui_bundle(zot_source, tmp_path):
    result = run_cli("release", "--source", str(zot_source), cwd=tmp_path)

    assert result.returncode == 3
    assert "matrix.yaml: ui_bundle.sha256 is not pinned" in result.stderr
    assert not (tmp_path / "dist").exists()


def test_verify_catches_a_local_binary_changed_after_publishing(
    built, tmp_path, distribution_registry
):
    directory = copy_release(built, tmp_path)
    common = ["--registry", distribution_registry.address, "--insecure", "--namespace", "local"]
    assert run_cli("publish", str(directory), *common, cwd=tmp_path).returncode == 0
    with (directory / "zot-linux-arm64").open("ab") as binary:
        binary.write(b"\0")

    result = run_cli("verify", str(directory), *common, cwd=tmp_path)

    assert result.returncode == 5
    assert "zot-linux-arm64: differs from release.json" in result.stdout + result.stderr


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_jobs_must_be_a_positive_number(zot_source, tmp_path, jobs):
    result = run_cli("build", "--source", str(zot_source), "--jobs", jobs, cwd=tmp_path)

    assert result.returncode == 2
    assert "--jobs" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "dist").exists()


def test_a_failing_go_build_exits_4_naming_the_target_and_stops_the_rest(
    zot_source, tmp_path, ui_bundle
):
    broken = tmp_path / "zot"
    shutil.copytree(zot_source, broken)
    # Only builds with the sync tag compile this file: the full flavor fails.
    (broken / "pkg" / "extensions" / "extension_sync.go").write_text(
        "//go:build sync\n\npackage extensions\n\nfunc broken( {\n"
    )
    result = run_cli(
        "build", "--source", str(broken), "--ui-bundle", str(ui_bundle),
        "--targets", "linux-amd64", "linux-amd64-minimal", "--jobs", "1",
        cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 4, result.stderr
    assert "error: zot-linux-amd64: go build failed:" in result.stderr
    assert "extension_sync.go" in result.stderr
    assert "Traceback" not in result.stderr
    # Its chain stopped: minimal, which would have built, was not started.
    assert not (tmp_path / "dist" / "v2.1.0" / "zot-linux-amd64-minimal").exists()
