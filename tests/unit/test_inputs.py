"""Inputs checked before compiling: the Go toolchain, the UI bundle, the records."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from release.errors import ConfigError, InputError
from release.record import ArtifactRecord, read_checksums, write_checksums
from release.toolchain import Toolchain, check_go_mod, go_version_key
from release.uibundle import install_bundle, resolve_bundle, tree_sha256


def toolchain(version: str) -> Toolchain:
    return Toolchain(version=version, dist_list=frozenset())


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("1.26", "1.26rc1"),
        ("1.26rc1", "1.26.0"),
        ("1.26.3", "go1.26.8"),
        ("go1.25.9", "1.26"),
        ("1.26beta1", "1.26rc1"),
    ],
)
def test_go_versions_order_as_go_orders_them(older, newer):
    assert go_version_key(older) < go_version_key(newer)


def test_go_satisfying_go_mod_passes():
    check_go_mod(
        toolchain("go1.26.8"), go_directive="1.26.3", toolchain_directive="go1.26.5", where="x"
    )


@pytest.mark.parametrize(
    ("go", "tc", "message"),
    [
        (
            "1.27.0",
            None,
            r"go\.mod: the go line asks for 1\.27\.0 but this machine has go1\.26\.8",
        ),
        ("1.26", "go1.26.9", r"go\.mod: the toolchain line asks for go1\.26\.9"),
    ],
)
def test_go_older_than_go_mod_is_refused(go, tc, message):
    with pytest.raises(InputError, match=message):
        check_go_mod(
            toolchain("go1.26.8"), go_directive=go, toolchain_directive=tc, where="zot/go.mod"
        )


def make_tgz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_ui_bundle_directory_is_used_and_installed(tmp_path):
    bundle = tmp_path / "zui"
    bundle.mkdir()
    (bundle / "index.html").write_text("<html></html>")
    source = tmp_path / "zot"
    (source / "pkg/extensions/build").mkdir(parents=True)
    (source / "pkg/extensions/build/stale.js").write_text("old")

    resolved = resolve_bundle(str(bundle), pinned_url=None, pinned_sha256=None, workdir=tmp_path)
    installed = install_bundle(resolved, source, "pkg/extensions/build")

    assert resolved.sha256 == tree_sha256(bundle)
    assert sorted(p.name for p in installed.iterdir()) == ["index.html"]


def test_ui_bundle_tgz_from_a_zui_release_is_unpacked(tmp_path):
    archive = make_tgz(tmp_path / "zui.tgz", {"build/index.html": b"<html></html>"})

    resolved = resolve_bundle(str(archive), pinned_url=None, pinned_sha256=None, workdir=tmp_path)

    assert resolved.directory.name == "build"
    assert resolved.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()


def test_ui_bundle_without_index_html_is_refused(tmp_path):
    archive = make_tgz(tmp_path / "zui.tgz", {"build/app.js": b"x"})

    with pytest.raises(InputError, match=r"no index\.html at its top or under build/"):
        resolve_bundle(str(archive), pinned_url=None, pinned_sha256=None, workdir=tmp_path)


def test_ui_bundle_with_a_path_out_of_the_folder_is_refused(tmp_path):
    archive = make_tgz(tmp_path / "zui.tgz", {"../escape.html": b"x"})

    with pytest.raises(InputError, match=r"not a readable \.tgz"):
        resolve_bundle(str(archive), pinned_url=None, pinned_sha256=None, workdir=tmp_path)
    assert not (tmp_path / "escape.html").exists()


def test_pinned_bundle_with_another_sha256_is_refused(tmp_path):
    archive = make_tgz(tmp_path / "zui.tgz", {"build/index.html": b"<html></html>"})

    with pytest.raises(InputError, match=r"sha256 is [0-9a-f]{64}, matrix\.yaml pins 0{64}"):
        resolve_bundle(None, pinned_url=str(archive), pinned_sha256="0" * 64, workdir=tmp_path)


def test_no_bundle_and_no_pin_says_what_to_pass(tmp_path):
    with pytest.raises(InputError, match=r"pass --ui-bundle"):
        resolve_bundle(None, pinned_url=None, pinned_sha256=None, workdir=tmp_path)


def artifact(name: str, digest: str) -> ArtifactRecord:
    return ArtifactRecord(
        name=name, file=name, os="linux", arch="amd64", flavor="full", extensions=(),
        binary_type="minimal", size=1, sha256=digest,
    )  # fmt: skip


def test_checksums_are_zots_format_sorted_by_name(tmp_path):
    write_checksums([artifact("zot-b", "b" * 64), artifact("zot-a", "a" * 64)], tmp_path)

    text = (tmp_path / "checksums.sha256.txt").read_text()

    assert text == f"{'a' * 64} *zot-a\n{'b' * 64} *zot-b\n"
    assert read_checksums(tmp_path) == {"zot-a": "a" * 64, "zot-b": "b" * 64}


def test_a_malformed_checksums_line_names_its_line(tmp_path):
    (tmp_path / "checksums.sha256.txt").write_text(f"{'a' * 64} *zot-a\nnonsense\n")

    with pytest.raises(ConfigError, match=r"checksums\.sha256\.txt:2:"):
        read_checksums(tmp_path)
