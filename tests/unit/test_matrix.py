"""matrix.yaml: the shipped file, and every kind of bad file with its message."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from release.errors import ConfigError
from release.matrix import load_matrix, parse_dist_list, resolve_extensions

REPO = Path(__file__).resolve().parents[2]

# What `go tool dist list` says, for the pairs these tests use.
DIST = parse_dist_list(
    "darwin/amd64\ndarwin/arm64\nfreebsd/amd64\nlinux/amd64\nlinux/arm64\nwindows/amd64\n"
)

GOOD = """\
project: zot
source:
  repository: https://example.invalid/zot.git
extensions:
  known: [debug, events, imagetrust, lint, metrics, mgmt, profile, scrub, search, sync, ui,
          userprefs]
  implies:
    ui: [search, mgmt, userprefs]
platforms:
  - {os: linux, arch: amd64}
  - {os: darwin, arch: arm64}
flavors:
  - name: full
    default: true
    extensions: [sync, ui]
  - name: minimal
    extensions: []
publish:
  registry: ghcr.io
  namespace: project-zot
  tags: ["{version}", latest]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "matrix.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_shipped_matrix_declares_the_eight_zot_artifacts():
    matrix = load_matrix(REPO / "matrix.yaml", dist_list=DIST)

    names = sorted(t.filename for t in matrix.targets())

    assert names == sorted(
        f"zot-{os_}-{arch}{suffix}"
        for os_ in ("linux", "darwin")
        for arch in ("amd64", "arm64")
        for suffix in ("", "-minimal")
    )


def test_shipped_full_flavor_has_zots_tags_and_binary_type():
    matrix = load_matrix(REPO / "matrix.yaml", dist_list=DIST)
    full, minimal = matrix.flavors

    assert full.tags == (
        "events,imagetrust,lint,metrics,mgmt,profile,scrub,search,sync,ui,userprefs"
    )
    assert full.binary_type == (
        "-events-imagetrust-lint-metrics-mgmt-profile-scrub-search-sync-ui-userprefs"
    )
    assert (minimal.tags, minimal.binary_type) == ("", "minimal")
    assert all(p.buildmode == "pie" for p in matrix.platforms)


def test_ui_brings_in_its_dependencies_sorted_and_once():
    resolved = resolve_extensions(
        ["ui", "sync", "search"],
        known=["mgmt", "search", "sync", "ui", "userprefs"],
        implies={"ui": ["search", "mgmt", "userprefs"]},
    )

    assert resolved == ("mgmt", "search", "sync", "ui", "userprefs")


def test_freebsd_and_windows_are_a_config_change(tmp_path):
    text = GOOD.replace(
        "  - {os: darwin, arch: arm64}\n",
        "  - {os: darwin, arch: arm64}\n"
        "  - {os: freebsd, arch: amd64, buildmode: exe}\n"
        "  - {os: windows, arch: amd64, binary_suffix: .exe}\n",
    )
    matrix = load_matrix(write(tmp_path, text), dist_list=DIST)

    by_id = {t.id: t for t in matrix.targets()}
    assert by_id["freebsd-amd64"].platform.buildmode == "exe"
    assert by_id["windows-amd64-minimal"].filename == "zot-windows-amd64-minimal.exe"
    assert by_id["windows-amd64-minimal"].name == "zot-windows-amd64-minimal"


def test_prerelease_versions_do_not_move_latest(tmp_path):
    text = GOOD + '  prerelease_tags: ["{version}"]\n'
    publish = load_matrix(write(tmp_path, text), dist_list=DIST).publish

    assert publish.tags_for("v2.1.0") == ("v2.1.0", "latest")
    assert publish.tags_for("v2.2.0-rc1") == ("v2.2.0-rc1",)


BAD = [
    pytest.param(
        GOOD.replace("  namespace: project-zot\n", "  namespace: project-zot\n  tagz: [x]\n"),
        "matrix.yaml:21: publish.tagz: unknown key 'tagz'; did you mean 'tags'?",
        id="unknown-key",
    ),
    pytest.param(
        GOOD.replace("    default: true\n", "    default: yes please\n"),
        "matrix.yaml:14: flavors.0.default: Input should be a valid boolean, got str 'yes please'",
        id="wrong-type",
    ),
    pytest.param(
        GOOD.replace("{os: darwin, arch: arm64}", "{os: darwin, arch: riscv64}"),
        "matrix.yaml:11: platforms.1: darwin/riscv64 is not a platform Go can build; "
        "Go builds darwin for amd64, arm64",
        id="unknown-platform",
    ),
    pytest.param(
        GOOD.replace("{os: darwin, arch: arm64}", "{os: linux, arch: amd64}"),
        "matrix.yaml:11: platforms.1: linux/amd64 is listed twice (first at line 10)",
        id="duplicate-platform",
    ),
    pytest.param(
        GOOD.replace("  - name: minimal\n", "  - name: full\n"),
        "matrix.yaml:16: flavors.1.name: flavor 'full' is declared twice (first at line 13)",
        id="duplicate-flavor",
    ),
    pytest.param(
        re.sub(r"platforms:\n(  - .*\n)+", "platforms: []\n", GOOD),
        "matrix.yaml:9: platforms: must not be empty",
        id="empty-matrix",
    ),
    pytest.param(
        GOOD.replace("extensions: [sync, ui]", "extensions: [sync, uii]"),
        "matrix.yaml:15: flavors.0.extensions.1: unknown extension 'uii'; did you mean 'ui'?",
        id="unknown-extension",
    ),
    pytest.param(
        GOOD.replace("extensions: [sync, ui]", "extensions: [sync, zzz]"),
        "matrix.yaml:15: flavors.0.extensions.1: unknown extension 'zzz'; known: debug, "
        "events, imagetrust, lint, metrics, mgmt, profile, scrub, search, sync, ui, userprefs",
        id="unknown-extension-unlike-any",
    ),
    pytest.param(
        GOOD.replace("    extensions: []\n", "    extensions: []\n    suffix: ''\n"),
        "matrix.yaml:10: platforms.0: linux/amd64 minimal and linux/amd64 full would both "
        "be named zot-linux-amd64; give the flavors different suffixes",
        id="same-name",
    ),
    pytest.param(
        GOOD.replace("    default: true\n", ""),
        "matrix.yaml:12: flavors: exactly one flavor must be the default (default: true), found 0",
        id="no-default-flavor",
    ),
    pytest.param(
        GOOD.replace("project: zot\n", "project: zot\nproject: zot\n"),
        "matrix.yaml:1: (top level): key 'project' appears twice",
        id="duplicate-key",
    ),
    pytest.param(
        GOOD.replace("publish:\n", "publish\n"),
        "matrix.yaml:19: not valid YAML: could not find expected ':'",
        id="not-yaml",
    ),
    pytest.param(
        GOOD.replace("  registry: ghcr.io\n", ""),
        "matrix.yaml:18: publish.registry: is required",
        id="missing-key",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_matrix_is_refused_with_file_line_and_field(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_matrix(write(tmp_path, text), dist_list=DIST)

    assert caught.value.message == message
    assert caught.value.exit_code == 2
    assert "\n" not in caught.value.message


def test_missing_matrix_file_names_the_path(tmp_path):
    with pytest.raises(ConfigError, match=r"matrix\.yaml: cannot be read"):
        load_matrix(tmp_path / "matrix.yaml", dist_list=DIST)
