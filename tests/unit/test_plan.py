"""Planning builds, selecting targets and sizing parallelism: pure functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from release.build import chains, parallelism
from release.errors import ConfigError
from release.matrix import load_matrix, parse_dist_list
from release.pipeline import select_targets
from release.plan import Stamp, plan_builds

REPO = Path(__file__).resolve().parents[2]
DIST = parse_dist_list("darwin/amd64\ndarwin/arm64\nlinux/amd64\nlinux/arm64\n")
STAMP = Stamp(
    module="zotregistry.dev/zot/v2",
    release_tag="v2.1.0",
    commit="v2.1.0-0-gabc1234",
    go_version="go1.26.8",
)


@pytest.fixture
def matrix():
    return load_matrix(REPO / "matrix.yaml", dist_list=DIST)


def test_full_build_command_is_zots_release_build(matrix, tmp_path):
    target = next(t for t in matrix.targets() if t.id == "linux-arm64")

    (step,) = plan_builds(matrix, [target], stamp=STAMP, outdir=tmp_path)

    bi = "zotregistry.dev/zot/v2/pkg/buildinfo"
    assert step.argv == (
        "go", "build", "-o", str(tmp_path / "zot-linux-arm64"), "-buildmode=pie", "-trimpath",
        "-tags", "events,imagetrust,lint,metrics,mgmt,profile,scrub,search,sync,ui,userprefs",
        "-ldflags",
        (
            f"-s -w -X {bi}.ReleaseTag=v2.1.0 -X {bi}.Commit=v2.1.0-0-gabc1234 "
            f"-X {bi}.BinaryType=-events-imagetrust-lint-metrics-mgmt-profile-scrub-search-"
            f"sync-ui-userprefs -X {bi}.GoVersion=go1.26.8"
        ),
        "./cmd/zot",
    )  # fmt: skip
    assert step.env == {
        "CGO_ENABLED": "0",
        "GOEXPERIMENT": "jsonv2",
        "GOOS": "linux",
        "GOARCH": "arm64",
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "",
    }


def test_minimal_build_has_no_tags_and_binary_type_minimal(matrix, tmp_path):
    target = next(t for t in matrix.targets() if t.id == "darwin-amd64-minimal")

    (step,) = plan_builds(matrix, [target], stamp=STAMP, outdir=tmp_path)

    assert "-tags" not in step.argv
    assert "BinaryType=minimal" in step.argv[step.argv.index("-ldflags") + 1]
    assert step.output == tmp_path / "zot-darwin-amd64-minimal"
    assert (step.env["GOOS"], step.env["GOARCH"]) == ("darwin", "amd64")


def test_targets_are_selected_by_glob_on_id_or_name(matrix):
    chosen = select_targets(matrix.targets(), ["linux-*-minimal", "zot-darwin-arm64"])

    assert [t.id for t in chosen] == [
        "linux-amd64-minimal",
        "linux-arm64-minimal",
        "darwin-arm64",
    ]


def test_a_glob_matching_no_target_is_a_config_error(matrix):
    with pytest.raises(ConfigError, match=r"--targets windows-\*: matches no target"):
        select_targets(matrix.targets(), ["windows-*"])


@pytest.mark.parametrize(
    ("cpus", "memory", "builds", "expected"),
    [
        (2, 24_000, 4, 1),  # this machine: one go build already fills 2 CPUs
        (16, 8_000, 4, 2),  # many CPUs, little memory: memory bounds it
        (16, 64_000, 4, 4),  # many CPUs: 4 at a time
        (32, 128_000, 3, 3),  # never more than there are chains
        (8, 1_000, 4, 1),  # too little memory still builds, one at a time
        (8, None, 4, 2),  # memory unknown: CPUs alone
    ],
)
def test_parallel_builds_are_bounded_by_cpus_memory_and_work(cpus, memory, builds, expected):
    jobs = parallelism(
        cpus=cpus, cpus_per_build=4, memory_mib=memory, per_build_mib=3072, builds=builds
    )

    assert jobs == expected


def test_builds_chain_per_platform_with_the_largest_flavor_first(matrix, tmp_path):
    # Minimal after full on one platform finds the shared packages cached.
    steps = plan_builds(matrix, list(reversed(matrix.targets())), stamp=STAMP, outdir=tmp_path)

    grouped = [[step.target.id for step in chain] for chain in chains(steps)]

    assert grouped == [
        ["darwin-arm64", "darwin-arm64-minimal"],
        ["darwin-amd64", "darwin-amd64-minimal"],
        ["linux-arm64", "linux-arm64-minimal"],
        ["linux-amd64", "linux-amd64-minimal"],
    ]
