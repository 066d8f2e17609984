"""Checking that a built zot binary is the one the matrix asked for.

Three independent witnesses are consulted, cheapest and safest first:

1. the build information Go embeds (``go version -m``): target OS and
   architecture, cgo, build tags;
2. the executable header, read here in Python, which is what the operating
   system will actually look at;
3. the binary itself (``zot --version``), only when it can run on this
   machine and only after 1 and 2 agree, so nothing of the wrong kind is
   ever executed.
"""

from __future__ import annotations

import json
import logging
import platform
import re
import struct
import subprocess
import sys
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, BinaryIO

from release.errors import CommandError, InputError, VerificationError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from release.runner import Runner

__all__ = [
    "BuildInfo",
    "Expected",
    "can_run_here",
    "check_binary",
    "executable_format",
    "expected_format",
    "parse_build_info",
    "read_build_info",
]

logger = logging.getLogger(__name__)

# `zot --version` only formats a log line; anything slower than this is hung.
VERSION_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, kw_only=True)
class Expected:
    """What a binary must be: its target, build tags and stamped version."""

    goos: str
    goarch: str
    tags: tuple[str, ...]  # sorted extension tags; () for a minimal build
    release_tag: str
    commit: str
    binary_type: str


@dataclass(frozen=True, kw_only=True)
class BuildInfo:
    """The build information ``go version -m`` reads from a Go binary."""

    go_version: str  # as Go prints it, e.g. "go1.26.8-X:jsonv2" with an experiment on
    path: str  # the main package, e.g. "zotregistry.dev/zot/v2/cmd/zot"
    main_module: str  # e.g. "zotregistry.dev/zot/v2"
    main_version: str  # "(devel)" unless Go stamped a version from the VCS tag
    # The "build" lines: GOOS, GOARCH, CGO_ENABLED, -tags, -buildmode, ...;
    # Go leaves -ldflags out of -trimpath builds, so nothing may rely on it.
    settings: Mapping[str, str]


# --- executable headers --------------------------------------------------------

_ELF_MACHINES = {
    0x03: "Intel 80386",
    0x28: "ARM",
    0x3E: "x86-64",
    0xB7: "aarch64",
    0x15: "PowerPC64",
    0x16: "S/390",
    0xF3: "RISC-V",
}
_MACHO_CPUS = {
    0x00000007: "i386",
    0x01000007: "x86_64",
    0x0000000C: "arm",
    0x0100000C: "arm64",
}
_PE_MACHINES = {
    0x014C: "Intel 80386",
    0x8664: "x86-64",
    0xAA64: "aarch64",
    0x01C4: "ARM",
}

_GOOS_FORMATS = {"linux": "ELF", "freebsd": "ELF", "darwin": "Mach-O", "windows": "PE"}
_GOARCH_MACHINES = {
    "ELF": {
        "386": "Intel 80386",
        "amd64": "x86-64",
        "arm": "ARM",
        "arm64": "aarch64",
        "ppc64le": "PowerPC64",
        "riscv64": "RISC-V",
        "s390x": "S/390",
    },
    "Mach-O": {"amd64": "x86_64", "arm64": "arm64"},
    "PE": {"386": "Intel 80386", "amd64": "x86-64", "arm64": "aarch64"},
}

_HEADER_BYTES = 64
_PE_OFFSET_FIELD = 0x3C


def executable_format(path: Path) -> tuple[str, str]:
    """Return (format, machine) of an executable, e.g. ("ELF", "aarch64").

    Raises VerificationError when the file is not an ELF, Mach-O or PE
    executable for a machine listed here.
    """
    try:
        with path.open("rb") as f:
            head = f.read(_HEADER_BYTES)
            pe_machine = _read_pe_machine(f, head)
    except OSError as err:
        raise VerificationError(f"{path.name}: cannot read the file: {err}") from err

    found: tuple[str, int | None, Mapping[int, str]] | None = None
    if head.startswith(b"\x7fELF") and len(head) >= 20:  # noqa: PLR2004
        # EI_DATA (byte 5) says how e_machine (bytes 18-19) is encoded.
        order = "<" if head[5] == 1 else ">"
        found = ("ELF", struct.unpack_from(f"{order}H", head, 18)[0], _ELF_MACHINES)
    elif head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe") and len(head) >= 8:  # noqa: PLR2004
        # Go writes little-endian Mach-O only; cputype follows the magic.
        found = ("Mach-O", struct.unpack_from("<I", head, 4)[0], _MACHO_CPUS)
    elif head.startswith(b"MZ"):
        found = ("PE", pe_machine, _PE_MACHINES)

    if found is None:
        start = f"starts with {head[:4].hex()}" if head else "empty"
        raise VerificationError(f"{path.name}: not an ELF, Mach-O or PE executable ({start})")
    kind, machine, names = found
    if machine is None:
        raise VerificationError(f"{path.name}: {kind} header is cut short or damaged")
    if machine not in names:
        raise VerificationError(f"{path.name}: {kind} executable for unknown machine {machine:#x}")
    return kind, names[machine]


def _read_pe_machine(f: BinaryIO, head: bytes) -> int | None:
    """The COFF machine field of a PE file, or None if head is not a PE stub."""
    if not head.startswith(b"MZ") or len(head) < _PE_OFFSET_FIELD + 4:
        return None
    # The DOS stub says where the PE signature and COFF header start.
    (offset,) = struct.unpack_from("<I", head, _PE_OFFSET_FIELD)
    f.seek(offset)
    signature = f.read(6)
    if len(signature) < 6 or signature[:4] != b"PE\0\0":  # noqa: PLR2004
        return None
    machine: int = struct.unpack_from("<H", signature, 4)[0]
    return machine


def expected_format(goos: str, goarch: str) -> tuple[str, str]:
    """Return the (format, machine) pair a Go build for goos/goarch produces."""
    kind = _GOOS_FORMATS.get(goos)
    machine = _GOARCH_MACHINES.get(kind or "", {}).get(goarch)
    if kind is None or machine is None:
        raise VerificationError(f"no known executable format for {goos}/{goarch}")
    return kind, machine


# --- this machine --------------------------------------------------------------

_HOST_ARCHES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
}


def _host_goos() -> str:
    if sys.platform == "win32":
        return "windows"
    if sys.platform.startswith("freebsd"):
        return "freebsd"
    return sys.platform  # "linux" and "darwin" already match GOOS


def can_run_here(goos: str, goarch: str) -> bool:
    """Whether a goos/goarch binary runs natively on this machine.

    Emulation (binfmt_misc with QEMU, Rosetta) is deliberately not counted:
    a version check under an emulator would prove less than it claims.
    """
    host_arch = _HOST_ARCHES.get(platform.machine().lower())
    return goos == _host_goos() and goarch == host_arch


# --- go version -m ---------------------------------------------------------------


def read_build_info(path: Path, *, runner: Runner) -> BuildInfo:
    """Read the build information Go embedded in the binary at path."""
    try:
        result = runner.run(["go", "version", "-m", path])
    except OSError as err:
        raise InputError(f"cannot start go to read build info: {err}") from err
    except CommandError as err:
        raise VerificationError(
            f"{path.name}: go version -m cannot read build info ({err.output or err.message})"
        ) from err
    return parse_build_info(result.stdout, name=path.name)


def parse_build_info(text: str, *, name: str) -> BuildInfo:
    """Parse the output of ``go version -m``; name is used in error messages."""
    lines = text.splitlines()
    if not lines or ": go" not in lines[0]:
        raise VerificationError(f"{name}: go version -m printed no Go version line")
    # "<file>: go1.26.8-X:jsonv2"; the file name may itself contain ": ".
    go_version = lines[0].rpartition(": ")[2].split()[0]

    fields: dict[str, list[str]] = {}
    settings: dict[str, str] = {}
    for line in lines[1:]:
        kind, _, rest = line.strip().partition("\t")
        if kind == "build":
            key, _, value = rest.partition("=")
            settings[key] = _unquote(value, name=name)
        elif kind in ("path", "mod"):
            fields[kind] = rest.split("\t")

    if "path" not in fields or "mod" not in fields:
        raise VerificationError(f"{name}: go version -m shows no main package or module")
    module = fields["mod"]
    return BuildInfo(
        go_version=go_version,
        path=fields["path"][0],
        main_module=module[0],
        main_version=module[1] if len(module) > 1 else "",
        settings=MappingProxyType(settings),
    )


def _unquote(value: str, *, name: str) -> str:
    # Go quotes a setting with strconv.Quote when it holds spaces, quotes or
    # "="; for the printable text of flags that is the same syntax as JSON.
    if not value.startswith('"'):
        return value
    try:
        unquoted = json.loads(value)
    except json.JSONDecodeError as err:
        raise VerificationError(f"{name}: go version -m has an unreadable value {value}") from err
    if not isinstance(unquoted, str):
        raise VerificationError(f"{name}: go version -m has an unreadable value {value}")
    return unquoted


# --- the whole check -------------------------------------------------------------


def check_binary(
    path: Path, expected: Expected, *, runner: Runner, run_version: bool = True
) -> None:
    """Raise VerificationError, in one line, if path is not the expected binary.

    Outline:
    1. go version -m: GOOS, GOARCH, CGO_ENABLED=0 and -tags;
    2. the executable header matches the target;
    3. where it can run here, ``--version`` reports the expected commit,
       binary type and release tag.
    """
    # 1. What the Go toolchain recorded.
    info = read_build_info(path, runner=runner)
    problems = _build_info_problems(info, expected)

    # 2. What the operating system will see.
    want = expected_format(expected.goos, expected.goarch)
    have = executable_format(path)
    if have != want:
        problems.append(f"header says {' '.join(have)}, expected {' '.join(want)}")

    if problems:
        raise VerificationError(f"{path.name}: {'; '.join(problems)}")

    # 3. What the binary says about itself; only now is it known safe to start.
    if run_version and can_run_here(expected.goos, expected.goarch):
        _check_version_output(path, expected, runner=runner)
    else:
        logger.info("%s: not run here, checked build info and header only", path.name)
    logger.info("%s: is %s/%s as expected", path.name, expected.goos, expected.goarch)


def _build_info_problems(info: BuildInfo, expected: Expected) -> list[str]:
    wanted = {
        "GOOS": expected.goos,
        "GOARCH": expected.goarch,
        "CGO_ENABLED": "0",
        # Go leaves -tags out entirely when no tags were given.
        "-tags": ",".join(expected.tags) or None,
    }
    problems = []
    for key, want in wanted.items():
        have = info.settings.get(key)
        if have == want:
            continue
        said = f"{key}={have}" if have is not None else f"no {key}"
        expected_text = want if want is not None else f"no {key}"
        problems.append(f"go version -m says {said}, expected {expected_text}")
    return problems


def _check_version_output(path: Path, expected: Expected, *, runner: Runner) -> None:
    try:
        # An absolute path, so a bare file name is never looked up on PATH.
        result = runner.run([path.resolve(), "--version"], timeout=VERSION_TIMEOUT_SECONDS)
    except CommandError as err:
        raise VerificationError(f"{path.name}: --version exited with {err.returncode}") from err
    except subprocess.TimeoutExpired as err:
        raise VerificationError(
            f"{path.name}: --version did not finish in {VERSION_TIMEOUT_SECONDS:g}s"
        ) from err
    except OSError as err:
        raise VerificationError(f"{path.name}: --version could not start: {err}") from err

    record = _version_record(result.stdout)
    if record is None:
        raise VerificationError(
            f'{path.name}: --version printed no JSON line with "message":"version" on stdout'
        )

    for field, want in (("commit", expected.commit), ("binary-type", expected.binary_type)):
        if record.get(field) != want:
            raise VerificationError(
                f"{path.name}: --version says {field}={record.get(field)}, expected {want}"
            )
    _check_release_tag(path, record, expected.release_tag)


def _version_record(stdout: str) -> Mapping[str, object] | None:
    # zot logs the version through its JSON logger to stdout; other lines, if
    # any, are not ours to judge.
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("message") == "version":
            return record
    return None


def _check_release_tag(path: Path, record: Mapping[str, object], release_tag: str) -> None:
    if "release-tag" in record:
        if record["release-tag"] != release_tag:
            raise VerificationError(
                f"{path.name}: --version says release-tag={record['release-tag']}, "
                f"expected {release_tag}"
            )
        return

    # Released zot prints no tag of its own; its commit is
    # `git describe --always --tags --long`, i.e. "<tag>-<n>-g<hash>[-dirty]".
    described = re.compile(rf"{re.escape(release_tag)}-\d+-g[0-9a-f]+(-dirty)?")
    commit = str(record.get("commit"))
    if not described.fullmatch(commit):
        raise VerificationError(
            f"{path.name}: --version says commit={commit}, "
            f"expected a description of tag {release_tag}"
        )
