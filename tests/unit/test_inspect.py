"""Unit tests of release.inspect: headers, format table and build-info parsing."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from release import inspect
from release.errors import VerificationError
from release.inspect import (
    Expected,
    can_run_here,
    check_binary,
    executable_format,
    expected_format,
    parse_build_info,
)
from release.runner import Result


def elf(machine: int, *, big_endian: bool = False) -> bytes:
    order = ">" if big_endian else "<"
    ident = b"\x7fELF" + bytes([2, 2 if big_endian else 1, 1]) + bytes(9)
    return ident + struct.pack(f"{order}HH", 2, machine) + bytes(44)


def macho(cputype: int) -> bytes:
    return struct.pack("<II", 0xFEEDFACF, cputype) + bytes(24)


def pe(machine: int) -> bytes:
    stub = b"MZ" + bytes(0x3C - 2) + struct.pack("<I", 0x80)
    return stub + bytes(0x80 - len(stub)) + b"PE\0\0" + struct.pack("<H", machine) + bytes(18)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (elf(0x3E), ("ELF", "x86-64")),
        (elf(0xB7), ("ELF", "aarch64")),
        (elf(0x16, big_endian=True), ("ELF", "S/390")),
        (macho(0x01000007), ("Mach-O", "x86_64")),
        (macho(0x0100000C), ("Mach-O", "arm64")),
        (pe(0x8664), ("PE", "x86-64")),
        (pe(0xAA64), ("PE", "aarch64")),
    ],
)
def test_executable_format_reads_the_machine_from_the_header(tmp_path, header, expected):
    binary = tmp_path / "zot"
    binary.write_bytes(header)
    assert executable_format(binary) == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"#!/bin/sh\necho zot\n", "zot: not an ELF, Mach-O or PE executable"),
        (b"", "zot: not an ELF, Mach-O or PE executable"),
        (elf(0x9999), "zot: ELF executable for unknown machine 0x9999"),
        (macho(0x12), "zot: Mach-O executable for unknown machine 0x12"),
        (b"MZ" + bytes(100), "zot: PE header is cut short or damaged"),
    ],
)
def test_executable_format_refuses_what_it_cannot_name(tmp_path, content, message):
    junk = tmp_path / "zot"
    junk.write_bytes(content)
    with pytest.raises(VerificationError, match=message):
        executable_format(junk)


def test_executable_format_names_a_missing_file(tmp_path):
    with pytest.raises(VerificationError, match="zot-missing: cannot read the file"):
        executable_format(tmp_path / "zot-missing")


@pytest.mark.parametrize(
    ("goos", "goarch", "expected"),
    [
        ("linux", "amd64", ("ELF", "x86-64")),
        ("linux", "arm64", ("ELF", "aarch64")),
        ("freebsd", "amd64", ("ELF", "x86-64")),
        ("freebsd", "arm64", ("ELF", "aarch64")),
        ("darwin", "amd64", ("Mach-O", "x86_64")),
        ("darwin", "arm64", ("Mach-O", "arm64")),
        ("windows", "amd64", ("PE", "x86-64")),
        ("windows", "arm64", ("PE", "aarch64")),
    ],
)
def test_expected_format_covers_every_zot_release_target(goos, goarch, expected):
    assert expected_format(goos, goarch) == expected


@pytest.mark.parametrize(("goos", "goarch"), [("plan9", "amd64"), ("darwin", "386")])
def test_expected_format_refuses_targets_it_does_not_know(goos, goarch):
    with pytest.raises(VerificationError, match=f"no known executable format for {goos}/"):
        expected_format(goos, goarch)


def test_can_run_here_compares_with_this_machine(monkeypatch):
    monkeypatch.setattr(inspect.sys, "platform", "linux")
    monkeypatch.setattr(inspect.platform, "machine", lambda: "aarch64")
    assert can_run_here("linux", "arm64")
    assert not can_run_here("linux", "amd64")
    assert not can_run_here("darwin", "arm64")


# Captured from `go version -m` on a build of the tests/fixtures/zotshaped module
# without -trimpath, so that -ldflags is recorded and quoted.
SAMPLE = """\
build: out/zot-darwin-arm64: go1.26.8-X:jsonv2
\tpath\tzotregistry.dev/zot/v2/cmd/zot
\tmod\tzotregistry.dev/zot/v2\tv2.1.0\t
\tbuild\t-buildmode=exe
\tbuild\t-compiler=gc
\tbuild\t-ldflags="-s -w -X zotregistry.dev/zot/v2/pkg/buildinfo.ReleaseTag=v2.1.0"
\tbuild\t-tags=search,sync
\tbuild\tDefaultGODEBUG=containermaxprocs=0,decoratemappings=0,tlssha1=1
\tbuild\tCGO_ENABLED=0
\tbuild\tGOARCH=arm64
\tbuild\tGOEXPERIMENT=jsonv2
\tbuild\tGOOS=darwin
\tbuild\tGOARM64=v8.0
\tbuild\tvcs=git
\tbuild\tvcs.revision=b83d670735fb2e2b0e9c4913fb3bcb3f0af0334c
\tbuild\tvcs.modified=false
"""


def test_parse_build_info_reads_module_and_settings():
    info = parse_build_info(SAMPLE, name="zot-darwin-arm64")

    assert info.go_version == "go1.26.8-X:jsonv2"
    assert info.path == "zotregistry.dev/zot/v2/cmd/zot"
    assert info.main_module == "zotregistry.dev/zot/v2"
    assert info.main_version == "v2.1.0"
    assert info.settings["GOOS"] == "darwin"
    assert info.settings["GOARCH"] == "arm64"
    assert info.settings["CGO_ENABLED"] == "0"
    assert info.settings["-tags"] == "search,sync"
    assert info.settings["-ldflags"] == (
        "-s -w -X zotregistry.dev/zot/v2/pkg/buildinfo.ReleaseTag=v2.1.0"
    )
    assert info.settings["DefaultGODEBUG"] == "containermaxprocs=0,decoratemappings=0,tlssha1=1"


def test_parse_build_info_refuses_output_without_a_module():
    with pytest.raises(VerificationError, match="zot: go version -m shows no main package"):
        parse_build_info("zot: go1.26.8\n", name="zot")


class FakeRunner:
    """Answers `go version -m` and `--version` with canned text."""

    def __init__(self, build_info: str, version_line: dict[str, str]) -> None:
        self.build_info = build_info
        self.version_line = version_line

    def run(self, argv, **_kwargs):
        if argv[:3] == ["go", "version", "-m"]:
            return Result(list(argv), 0, self.build_info, "")
        return Result(list(argv), 0, json.dumps(self.version_line) + "\n", "")


EXPECTED = Expected(
    goos="darwin",
    goarch="arm64",
    tags=("search", "sync"),
    release_tag="v2.1.0",
    commit="v2.1.0-0-gb83d670",
    binary_type="-search-sync",
)
VERSION = {
    "level": "info",
    "message": "version",
    "distribution-spec": "1.1.1",
    "commit": "v2.1.0-0-gb83d670",
    "binary-type": "-search-sync",
    "go version": "go1.26.8",
}


@pytest.fixture
def darwin_binary(tmp_path, monkeypatch) -> Path:
    # Pretend this machine is the target so the --version stage runs on the fake.
    monkeypatch.setattr(inspect, "can_run_here", lambda _goos, _goarch: True)
    binary = tmp_path / "zot-darwin-arm64"
    binary.write_bytes(macho(0x0100000C))
    return binary


def test_check_binary_accepts_a_binary_that_matches(darwin_binary):
    check_binary(darwin_binary, EXPECTED, runner=FakeRunner(SAMPLE, VERSION))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"goarch": "amd64"}, "go version -m says GOARCH=arm64, expected amd64; header says"),
        ({"tags": ()}, "go version -m says -tags=search,sync, expected no -tags$"),
        ({"commit": "v2.1.0-1-g0000000"}, "--version says commit=v2.1.0-0-gb83d670, expected"),
        ({"binary_type": "minimal"}, "--version says binary-type=-search-sync, expected minimal"),
    ],
)
def test_check_binary_names_the_file_and_the_difference(darwin_binary, changes, message):
    wrong = replace(EXPECTED, **changes)
    with pytest.raises(VerificationError, match=f"^zot-darwin-arm64: {message}"):
        check_binary(darwin_binary, wrong, runner=FakeRunner(SAMPLE, VERSION))


def test_check_binary_wants_cgo_off(darwin_binary):
    with_cgo = SAMPLE.replace("CGO_ENABLED=0", "CGO_ENABLED=1")
    with pytest.raises(VerificationError, match="says CGO_ENABLED=1, expected 0"):
        check_binary(darwin_binary, EXPECTED, runner=FakeRunner(with_cgo, VERSION))


def test_check_binary_takes_the_release_tag_from_the_commit_description(darwin_binary):
    rc_build = {**VERSION, "commit": "v2.1.0-rc1-0-gb83d670"}
    expected = replace(EXPECTED, commit="v2.1.0-rc1-0-gb83d670")
    with pytest.raises(VerificationError, match=r"expected a description of tag v2\.1\.0$"):
        check_binary(darwin_binary, expected, runner=FakeRunner(SAMPLE, rc_build))


def test_check_binary_prefers_an_explicit_release_tag_field(darwin_binary):
    tagged = {**VERSION, "release-tag": "v2.0.9"}
    with pytest.raises(VerificationError, match=r"release-tag=v2\.0\.9, expected v2\.1\.0$"):
        check_binary(darwin_binary, EXPECTED, runner=FakeRunner(SAMPLE, tagged))


def test_check_binary_skips_running_when_asked(darwin_binary):
    wrong_commit = replace(EXPECTED, commit="elsewhere")
    check_binary(
        darwin_binary, wrong_commit, runner=FakeRunner(SAMPLE, VERSION), run_version=False
    )
