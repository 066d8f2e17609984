"""How release artifacts are named, in one place.

zot's convention: ``zot-<os>-<arch>`` for the default (full) build and
``zot-<os>-<arch>-<flavor>`` for the others; the binary type stamped into
buildinfo is ``-`` followed by the sorted extensions joined by ``-``, or
``minimal`` when there are none.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["artifact_name", "binary_type"]


def artifact_name(project: str, goos: str, goarch: str, suffix: str) -> str:
    """``zot-linux-arm64`` plus the flavor's suffix, e.g. ``-minimal``."""
    return f"{project}-{goos}-{goarch}{suffix}"


def binary_type(extensions: Sequence[str]) -> str:
    return "-" + "-".join(extensions) if extensions else "minimal"
