"""matrix.yaml: the single declaration of what a release builds and where it goes.

``load_matrix`` validates the file in two passes. pydantic checks the shape
(known keys, types); the rules that span entries (a platform Go knows, no
duplicates, known extensions, unique artifact names) follow. Every message
reads ``matrix.yaml:LINE: key.path: what is wrong``.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from release import naming
from release.errors import ConfigError
from release.yamlpos import Located, load_located

__all__ = [
    "Flavor",
    "GoArch",
    "GoOS",
    "GoSettings",
    "Matrix",
    "Platform",
    "PublishSettings",
    "SourceSettings",
    "Target",
    "UIBundleSettings",
    "load_matrix",
    "parse_dist_list",
    "resolve_extensions",
]


class GoOS(enum.StrEnum):
    """Operating systems as GOOS names them."""

    AIX = "aix"
    ANDROID = "android"
    DARWIN = "darwin"
    DRAGONFLY = "dragonfly"
    FREEBSD = "freebsd"
    ILLUMOS = "illumos"
    IOS = "ios"
    JS = "js"
    LINUX = "linux"
    NETBSD = "netbsd"
    OPENBSD = "openbsd"
    PLAN9 = "plan9"
    SOLARIS = "solaris"
    WASIP1 = "wasip1"
    WINDOWS = "windows"


class GoArch(enum.StrEnum):
    """Architectures as GOARCH names them."""

    I386 = "386"
    AMD64 = "amd64"
    ARM = "arm"
    ARM64 = "arm64"
    LOONG64 = "loong64"
    MIPS = "mips"
    MIPS64 = "mips64"
    MIPS64LE = "mips64le"
    MIPSLE = "mipsle"
    PPC64 = "ppc64"
    PPC64LE = "ppc64le"
    RISCV64 = "riscv64"
    S390X = "s390x"
    WASM = "wasm"


# ---------------------------------------------------------------------------
# Domain values: what the rest of the pipeline works with.


@dataclass(frozen=True, kw_only=True)
class Platform:
    os: GoOS
    arch: GoArch
    buildmode: str
    binary_suffix: str = ""

    @property
    def id(self) -> str:
        return f"{self.os}/{self.arch}"


@dataclass(frozen=True, kw_only=True)
class Flavor:
    name: str
    extensions: tuple[str, ...]  # resolved: implied ones added, de-duplicated, sorted
    default: bool = False
    suffix: str  # appended to artifact names: "" for the default flavor, else "-<name>"

    @property
    def tags(self) -> str:
        """The value of ``go build -tags``; empty for no extensions."""
        return ",".join(self.extensions)

    @property
    def binary_type(self) -> str:
        """What zot's build stamps into buildinfo.BinaryType."""
        return naming.binary_type(self.extensions)


@dataclass(frozen=True, kw_only=True)
class Target:
    """One cell of the matrix: a platform built as a flavor."""

    project: str
    platform: Platform
    flavor: Flavor

    @property
    def name(self) -> str:
        """Artifact and repository name, e.g. ``zot-linux-arm64-minimal``."""
        return naming.artifact_name(
            self.project,
            str(self.platform.os),
            str(self.platform.arch),
            self.flavor.suffix,
        )

    @property
    def id(self) -> str:
        """The name without the project prefix, e.g. ``linux-arm64-minimal``."""
        return self.name.removeprefix(f"{self.project}-")

    @property
    def filename(self) -> str:
        return self.name + self.platform.binary_suffix


@dataclass(frozen=True, kw_only=True)
class SourceSettings:
    repository: str
    main_package: str
    buildinfo_package: str


@dataclass(frozen=True, kw_only=True)
class UIBundleSettings:
    url: str | None
    sha256: str | None
    destination: str


@dataclass(frozen=True, kw_only=True)
class GoSettings:
    env: Mapping[str, str]
    flags: tuple[str, ...]
    ldflags: tuple[str, ...]
    memory_per_build_mib: int
    cpus_per_build: int


@dataclass(frozen=True, kw_only=True)
class PublishSettings:
    registry: str
    namespace: str
    tags: tuple[str, ...]
    prerelease_tags: tuple[str, ...]

    def tags_for(self, version: str) -> tuple[str, ...]:
        templates = self.prerelease_tags if "-" in version else self.tags
        return tuple(dict.fromkeys(t.format(version=version) for t in templates))

    def repository(self, name: str) -> str:
        """The repository of the artifact ``name``, under the namespace."""
        return f"{self.namespace}/{name}" if self.namespace else name


@dataclass(frozen=True, kw_only=True)
class Matrix:
    path: Path
    project: str
    source: SourceSettings
    ui_bundle: UIBundleSettings
    go: GoSettings
    platforms: tuple[Platform, ...]
    flavors: tuple[Flavor, ...]
    publish: PublishSettings

    def targets(self) -> tuple[Target, ...]:
        """Every platform x flavor, platforms in file order, flavors within each."""
        return tuple(
            Target(project=self.project, platform=p, flavor=f)
            for p in self.platforms
            for f in self.flavors
        )

    def needs_ui_bundle(self, targets: Iterable[Target]) -> bool:
        return any("ui" in t.flavor.extensions for t in targets)


# ---------------------------------------------------------------------------
# The file's schema. Strict: no coercion of "1" into 1 or of yes into True.


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Source(_Model):
    repository: str
    main_package: str = "./cmd/zot"
    buildinfo_package: str = "pkg/buildinfo"


class _UIBundle(_Model):
    url: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    destination: str = "pkg/extensions/build"


class _Go(_Model):
    env: dict[str, str] = {}
    flags: list[str] = []
    buildmode: str = "pie"
    ldflags: list[str] = []
    memory_per_build_mib: int = Field(default=3072, gt=0)
    cpus_per_build: int = Field(default=4, gt=0)


class _Extensions(_Model):
    known: list[str]
    implies: dict[str, list[str]] = {}


class _Platform(_Model):
    os: str
    arch: str
    buildmode: str | None = None
    binary_suffix: str = ""


class _Flavor(_Model):
    name: str = Field(pattern=r"^[a-z0-9]+$")
    default: bool = False
    extensions: list[str]
    suffix: str | None = Field(default=None, pattern=r"^(-[a-z0-9]+)*$")


class _Publish(_Model):
    registry: str
    namespace: str = ""
    tags: list[str] = Field(min_length=1)
    prerelease_tags: list[str] | None = None


class _MatrixFile(_Model):
    project: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    source: _Source
    ui_bundle: _UIBundle = _UIBundle()
    go: _Go = _Go()
    extensions: _Extensions
    platforms: list[_Platform] = Field(min_length=1)
    flavors: list[_Flavor] = Field(min_length=1)
    publish: _Publish


# ---------------------------------------------------------------------------
# Loading.


def parse_dist_list(output: str) -> frozenset[tuple[str, str]]:
    """The os/arch pairs of ``go tool dist list`` output."""
    pairs = (line.strip().split("/", 1) for line in output.splitlines() if "/" in line)
    return frozenset((os_, arch) for os_, arch in pairs)


def load_matrix(path: Path, *, dist_list: frozenset[tuple[str, str]] | None) -> Matrix:
    """Read and validate matrix.yaml.

    ``dist_list`` is what ``go tool dist list`` reports; it is passed in so
    that the loader stays a pure function of its inputs. ``None`` skips the
    platform check, for commands that publish what was built and need no Go.

    Raises:
        ConfigError: naming the file, line and key of the first problem.
    """
    located = load_located(path)
    if not isinstance(located.data, dict):
        raise ConfigError(f"{path.name}:1: the file must be a mapping of settings")
    try:
        raw = _MatrixFile.model_validate(located.data)
    except pydantic.ValidationError as exc:
        raise ConfigError(_describe(exc, located)) from None

    extensions = _check_extensions(raw.extensions, located)
    platforms = _platforms(raw, dist_list, located)
    flavors = _flavors(raw, extensions, located)
    matrix = Matrix(
        path=path,
        project=raw.project,
        source=SourceSettings(**raw.source.model_dump()),
        ui_bundle=UIBundleSettings(**raw.ui_bundle.model_dump()),
        go=GoSettings(
            env=dict(raw.go.env),
            flags=tuple(raw.go.flags),
            ldflags=tuple(raw.go.ldflags),
            memory_per_build_mib=raw.go.memory_per_build_mib,
            cpus_per_build=raw.go.cpus_per_build,
        ),
        platforms=platforms,
        flavors=flavors,
        publish=PublishSettings(
            registry=raw.publish.registry,
            namespace=raw.publish.namespace.strip("/"),
            tags=tuple(raw.publish.tags),
            prerelease_tags=tuple(raw.publish.prerelease_tags or raw.publish.tags),
        ),
    )
    _check_unique_names(matrix, located)
    return matrix


def resolve_extensions(
    requested: Iterable[str], *, known: Iterable[str], implies: Mapping[str, Iterable[str]]
) -> tuple[str, ...]:
    """Add implied extensions, drop duplicates and sort, as zot's Makefile does.

    Raises:
        ValueError: naming the first unknown extension.
    """
    known_set = set(known)
    result: set[str] = set()
    pending = list(requested)
    while pending:
        name = pending.pop()
        if name not in known_set:
            raise ValueError(name)
        if name not in result:
            result.add(name)
            pending.extend(implies.get(name, ()))
    return tuple(sorted(result))


def _describe(exc: pydantic.ValidationError, located: Located) -> str:
    """One line for the first validation error, with a "did you mean" for unknown keys."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
        message = f"{message}; {hint}"
    elif error["type"] == "missing":
        message = "is required"
    elif error["type"] == "too_short":
        message = "must not be empty"
    elif "input" in error and error["type"].endswith("_type"):
        message = f"{message}, got {type(error['input']).__name__} {error['input']!r}"
    return f"{located.where(loc)}: {message}"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = _MatrixFile
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation
        inner = getattr(annotation, "__args__", (annotation,))[0]
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return []
        model = inner
    return sorted(model.model_fields)


def _check_extensions(raw: _Extensions, located: Located) -> _Extensions:
    known = set(raw.known)
    for name, implied in raw.implies.items():
        for i, dep in enumerate([name, *implied]):
            if dep not in known:
                key = ("extensions", "implies", name) + ((i - 1,) if i else ())
                raise ConfigError(
                    f"{located.where(key)}: unknown extension {dep!r}; "
                    "add it to extensions.known first"
                )
    return raw


def _platforms(
    raw: _MatrixFile, dist_list: frozenset[tuple[str, str]] | None, located: Located
) -> tuple[Platform, ...]:
    seen: dict[tuple[str, str], int] = {}
    platforms = []
    for i, entry in enumerate(raw.platforms):
        key = ("platforms", i)
        pair = (entry.os, entry.arch)
        if dist_list is not None and pair not in dist_list:
            known_arches = sorted(a for o, a in dist_list if o == entry.os)
            hint = (
                f"Go builds {entry.os} for {', '.join(known_arches)}"
                if known_arches
                else "see `go tool dist list`"
            )
            raise ConfigError(
                f"{located.where(key)}: {entry.os}/{entry.arch} is not a platform Go "
                f"can build; {hint}"
            )
        if pair in seen:
            raise ConfigError(
                f"{located.where(key)}: {entry.os}/{entry.arch} is listed twice "
                f"(first at line {seen[pair]})"
            )
        seen[pair] = located.line_of(key)
        platforms.append(
            Platform(
                os=GoOS(entry.os),
                arch=GoArch(entry.arch),
                buildmode=entry.buildmode or raw.go.buildmode,
                binary_suffix=entry.binary_suffix,
            )
        )
    return tuple(platforms)


def _flavors(raw: _MatrixFile, extensions: _Extensions, located: Located) -> tuple[Flavor, ...]:
    seen: dict[str, int] = {}
    flavors = []
    for i, entry in enumerate(raw.flavors):
        key = ("flavors", i)
        if entry.name in seen:
            raise ConfigError(
                f"{located.where((*key, 'name'))}: flavor {entry.name!r} is declared twice "
                f"(first at line {seen[entry.name]})"
            )
        seen[entry.name] = located.line_of((*key, "name"))
        try:
            resolved = resolve_extensions(
                entry.extensions, known=extensions.known, implies=extensions.implies
            )
        except ValueError as exc:
            name = str(exc)
            position = entry.extensions.index(name)
            close = difflib.get_close_matches(name, extensions.known, n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else "known: " + ", ".join(sorted(extensions.known))
            )
            raise ConfigError(
                f"{located.where((*key, 'extensions', position))}: unknown extension "
                f"{name!r}; {hint}"
            ) from None
        suffix = entry.suffix
        if suffix is None:
            suffix = "" if entry.default else f"-{entry.name}"
        flavors.append(
            Flavor(name=entry.name, extensions=resolved, default=entry.default, suffix=suffix)
        )

    defaults = [i for i, f in enumerate(flavors) if f.default]
    if len(defaults) != 1:
        where = located.where(("flavors", defaults[1]) if defaults else ("flavors",))
        raise ConfigError(
            f"{where}: exactly one flavor must be the default (default: true), "
            f"found {len(defaults)}"
        )
    return tuple(flavors)


def _check_unique_names(matrix: Matrix, located: Located) -> None:
    seen: dict[str, Target] = {}
    for target in matrix.targets():
        other = seen.get(target.name)
        if other is not None:
            p = matrix.platforms.index(target.platform)
            raise ConfigError(
                f"{located.where(('platforms', p))}: {target.platform.id} "
                f"{target.flavor.name} and {other.platform.id} {other.flavor.name} "
                f"would both be named {target.name}; give the flavors different suffixes"
            )
        seen[target.name] = target
