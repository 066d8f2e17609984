"""The Go toolchain on this machine, and whether it may build a given source.

Builds run with GOTOOLCHAIN=local, so the toolchain checked here is the one
that compiles and the one stamped into buildinfo.GoVersion; Go is never
allowed to switch to (or download) another one halfway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from release.errors import CommandError, InputError
from release.matrix import parse_dist_list
from release.runner import Runner

__all__ = ["Toolchain", "check_go_mod", "go_version_key", "probe_toolchain"]

_VERSION = re.compile(r"^(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(rc|beta)(\d+))?$")


@dataclass(frozen=True, kw_only=True)
class Toolchain:
    version: str  # as `go env GOVERSION` says it, e.g. go1.26.8
    dist_list: frozenset[tuple[str, str]]


def probe_toolchain(runner: Runner) -> Toolchain:
    try:
        version = runner.run(["go", "env", "GOVERSION"], env={"GOTOOLCHAIN": "local"})
        dist = runner.run(["go", "tool", "dist", "list"], env={"GOTOOLCHAIN": "local"})
    except (CommandError, FileNotFoundError) as exc:
        raise InputError("cannot run `go`: install Go and put it on PATH", hint=str(exc)) from exc
    return Toolchain(version=version.stdout.strip(), dist_list=parse_dist_list(dist.stdout))


def go_version_key(version: str) -> tuple[int, int, int, int, int]:
    """A sortable key for Go version strings: go1.26.8, 1.26, 1.27rc1.

    Release candidates sort before the release they lead to; a bare
    ``1.26`` (the language version) sorts before ``1.26rc1``, as Go orders them.
    """
    match = _VERSION.match(version.split(maxsplit=1)[0].split("-", maxsplit=1)[0])
    if match is None:
        raise ValueError(version)
    major, minor, patch, pre, pre_number = match.groups()
    stages = {"beta": 1, "rc": 2, None: 3 if patch is not None else 0}
    stage = stages[pre]
    return (int(major), int(minor or 0), int(patch or 0), stage, int(pre_number or 0))


def check_go_mod(
    toolchain: Toolchain, *, go_directive: str | None, toolchain_directive: str | None, where: str
) -> None:
    """Refuse a local Go older than what the source's go.mod asks for."""
    try:
        local = go_version_key(toolchain.version)
    except ValueError:
        # A development build of Go says "devel ..."; it cannot be ordered.
        return
    for word, wanted in (("go", go_directive), ("toolchain", toolchain_directive)):
        if wanted is None or wanted == "default":
            continue
        try:
            needed = go_version_key(wanted)
        except ValueError as exc:
            raise InputError(f"{where}: cannot read the {word} line {wanted!r}") from exc
        if local < needed:
            raise InputError(
                f"{where}: the {word} line asks for {wanted} but this machine has "
                f"{toolchain.version}; install a newer Go (builds run with GOTOOLCHAIN=local)"
            )
