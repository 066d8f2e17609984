"""Planning: the matrix and a source become exact ``go build`` commands.

A pure function, tested without Go: everything a build does is decided here
and can be shown (``--list``) before any of it runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from release.matrix import Matrix, Target

__all__ = ["BuildStep", "Stamp", "plan_builds"]


@dataclass(frozen=True, kw_only=True)
class Stamp:
    """What every binary of a release is stamped with through -ldflags -X."""

    module: str  # the source's module path, from its go.mod
    release_tag: str
    commit: str
    go_version: str


@dataclass(frozen=True, kw_only=True)
class BuildStep:
    target: Target
    argv: tuple[str, ...]
    env: Mapping[str, str]  # on top of the inherited environment
    output: Path


def plan_builds(
    matrix: Matrix, targets: Sequence[Target], *, stamp: Stamp, outdir: Path
) -> tuple[BuildStep, ...]:
    """One ``go build`` per target, writing ``outdir/<file name>``."""
    buildinfo = f"{stamp.module}/{matrix.source.buildinfo_package.strip('/')}"
    steps = []
    for target in targets:
        ldflags = [
            *matrix.go.ldflags,
            f"-X {buildinfo}.ReleaseTag={stamp.release_tag}",
            f"-X {buildinfo}.Commit={stamp.commit}",
            f"-X {buildinfo}.BinaryType={target.flavor.binary_type}",
            f"-X {buildinfo}.GoVersion={stamp.go_version}",
        ]
        output = outdir / target.filename
        argv = [
            "go",
            "build",
            "-o",
            str(output),
            f"-buildmode={target.platform.buildmode}",
            *matrix.go.flags,
        ]
        if target.flavor.tags:
            argv += ["-tags", target.flavor.tags]
        argv += ["-ldflags", " ".join(ldflags), matrix.source.main_package]
        env = {
            **matrix.go.env,
            "GOOS": str(target.platform.os),
            "GOARCH": str(target.platform.arch),
            # The checked toolchain builds; Go may not switch to another one.
            "GOTOOLCHAIN": "local",
            # Flags from the caller's environment would change what gets built.
            "GOFLAGS": "",
        }
        steps.append(BuildStep(target=target, argv=tuple(argv), env=env, output=output))
    return tuple(steps)
