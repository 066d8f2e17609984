"""The zot source a release is built from: where it is, which version, which commit.

A source is a local checkout used in place, or a git URL (``URL#ref``) cloned
into the work folder; with neither, the repository from matrix.yaml is cloned
at the version's tag. Version and commit follow zot's Makefile:
``git describe --tags --abbrev=0`` and ``git describe --always --tags --long``
with ``-dirty`` when tracked files have changes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from release.errors import CommandError, InputError
from release.runner import Runner

__all__ = [
    "OCI_TAG",
    "Source",
    "fetch_source",
    "oci_tag_for",
    "read_source",
    "release_problems",
]

logger = logging.getLogger(__name__)

# The distribution spec's grammar for a tag.
OCI_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")


@dataclass(frozen=True, kw_only=True)
class Source:
    path: Path
    origin: str  # where the source can be had, for org.opencontainers.image.source
    module: str  # module path from go.mod
    go_directive: str | None
    toolchain_directive: str | None
    version: str
    commit: str  # `git describe --always --tags --long`, with -dirty
    revision: str  # the full commit hash
    commit_time: str  # RFC 3339, UTC
    dirty: bool
    version_at_head: bool  # whether the version tag names HEAD


def fetch_source(
    spec: str | None, *, version: str | None, repository: str, workdir: Path, runner: Runner
) -> tuple[Path, str]:
    """Return the checkout to build and the URL it comes from.

    ``spec`` is a local directory, or a git URL with an optional ``#ref``;
    ``None`` clones ``repository`` at ``version``.
    """
    if spec is not None and "://" not in spec and not spec.startswith("git@"):
        path = Path(spec).expanduser().resolve()
        if not path.is_dir():
            raise InputError(f"--source {spec}: no such directory")
        if not (path / "go.mod").is_file():
            raise InputError(f"--source {spec}: no go.mod there; give a zot checkout")
        return path, repository

    if spec is None:
        if version is None:
            raise InputError("without --source, --version is needed to clone zot at its tag")
        url, ref = repository, version
    else:
        url, _, ref = spec.partition("#")
    dest = workdir / "source"
    try:
        runner.run(["git", "clone", "--quiet", "--no-checkout", url, dest])
        if ref:
            runner.run(["git", "-C", dest, "checkout", "--quiet", ref])
        else:
            runner.run(["git", "-C", dest, "checkout", "--quiet"])
    except CommandError as exc:
        raise InputError(
            f"cannot clone {url}{f' at {ref}' if ref else ''}: {_last_line(exc.output)}"
        ) from exc
    return dest, url


def read_source(path: Path, *, origin: str, version: str | None, runner: Runner) -> Source:
    """Read module, version and commit of a checkout."""
    module, go_directive, toolchain = _read_go_mod(path / "go.mod")

    def git(*args: str) -> str:
        try:
            return runner.run(["git", "-C", path, *args]).stdout.strip()
        except CommandError as exc:
            raise InputError(
                f"{path}: git {args[0]} failed: {_last_line(exc.output)}; "
                "the source must be a git checkout with its tags"
            ) from exc

    if version is None:
        version = git("describe", "--tags", "--abbrev=0")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    commit = git("describe", "--always", "--tags", "--long") + ("-dirty" if dirty else "")
    revision = git("rev-parse", "HEAD")
    committed = datetime.fromisoformat(git("show", "-s", "--format=%cI", "HEAD"))
    tagged = runner.run(
        ["git", "-C", path, "rev-parse", "--verify", "--quiet", f"refs/tags/{version}^{{commit}}"],
        check=False,
    ).stdout.strip()

    return Source(
        path=path,
        origin=origin,
        module=module,
        go_directive=go_directive,
        toolchain_directive=toolchain,
        version=version,
        commit=commit,
        revision=revision,
        commit_time=committed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        dirty=dirty,
        version_at_head=tagged == revision,
    )


def release_problems(source: Source) -> list[str]:
    """What makes this source unfit for a real release; a dry run only warns of them."""
    problems = []
    if source.dirty:
        problems.append(f"{source.path}: tracked files have uncommitted changes")
    if not OCI_TAG.match(source.version):
        problems.append(
            f"version {source.version!r} is not a valid OCI tag "
            f"(a dry run publishes it as {oci_tag_for(source.version)!r})"
        )
    if not source.version_at_head:
        problems.append(f"tag {source.version!r} does not name the checked-out commit")
    return problems


def oci_tag_for(version: str) -> str:
    """``version`` itself when it is a valid OCI tag, else a stand-in for a dry run."""
    if OCI_TAG.match(version):
        return version
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in version)
    return cleaned.lstrip(".-")[:128] or "untagged"


def _read_go_mod(path: Path) -> tuple[str, str | None, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from exc
    fields: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split("//", 1)[0].split()
        if len(words) == 2 and words[0] in {"module", "go", "toolchain"}:  # noqa: PLR2004
            fields.setdefault(words[0], words[1].strip('"'))
    if "module" not in fields:
        raise InputError(f"{path}: no module line")
    return fields["module"], fields.get("go"), fields.get("toolchain")


def _last_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
