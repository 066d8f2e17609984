"""What a release produced: release.json and checksums.sha256.txt in dist/<version>/.

release.json is the record that publishing and verification read back; the
checksums file is zot's format (``<sha256> *<name>``, sorted by name), so
``sha256sum -c checksums.sha256.txt`` checks a download.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release.errors import ConfigError

__all__ = [
    "CHECKSUMS_FILE",
    "RECORD_FILE",
    "ArtifactRecord",
    "ReleaseRecord",
    "read_checksums",
    "write_checksums",
]

CHECKSUMS_FILE = "checksums.sha256.txt"
RECORD_FILE = "release.json"


@dataclass(frozen=True, kw_only=True)
class ArtifactRecord:
    name: str
    file: str
    os: str
    arch: str
    flavor: str
    extensions: tuple[str, ...]
    binary_type: str
    size: int
    sha256: str
    # Filled in by publishing.
    repository: str | None = None
    tags: tuple[str, ...] = ()
    manifest_digest: str | None = None

    @property
    def platform(self) -> str:
        return f"{self.os}/{self.arch}"


@dataclass(frozen=True, kw_only=True)
class ReleaseRecord:
    project: str
    version: str
    commit: str
    revision: str
    created: str  # the commit time: the same source gives the same manifests
    source: str
    go_version: str
    ui_bundle: dict[str, str] | None
    artifacts: tuple[ArtifactRecord, ...]

    def artifact(self, name: str) -> ArtifactRecord:
        for artifact in self.artifacts:
            if artifact.name == name:
                return artifact
        raise KeyError(name)

    def with_artifacts(self, artifacts: Iterable[ArtifactRecord]) -> ReleaseRecord:
        return dataclasses.replace(self, artifacts=tuple(artifacts))

    def write(self, directory: Path) -> Path:
        path = directory / RECORD_FILE
        document = dataclasses.asdict(self)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, directory: Path) -> ReleaseRecord:
        path = directory / RECORD_FILE
        try:
            document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            artifacts = tuple(
                ArtifactRecord(
                    **{
                        **entry,
                        "extensions": tuple(entry["extensions"]),
                        "tags": tuple(entry["tags"]),
                    }
                )
                for entry in document.pop("artifacts")
            )
            return cls(**document, artifacts=artifacts)
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: not found; run the build first") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}: not a release record this tool wrote ({exc})") from exc


def write_checksums(artifacts: Iterable[ArtifactRecord], directory: Path) -> Path:
    lines = [f"{a.sha256} *{a.file}\n" for a in sorted(artifacts, key=lambda a: a.file)]
    path = directory / CHECKSUMS_FILE
    path.write_text("".join(lines), encoding="utf-8")
    return path


def read_checksums(directory: Path) -> dict[str, str]:
    """File name to sha256, from checksums.sha256.txt."""
    path = directory / CHECKSUMS_FILE
    result = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition(" *")
        if not sep or len(digest) != 64:  # noqa: PLR2004 - hex sha256
            raise ConfigError(f"{path.name}:{number}: not '<sha256> *<name>'")
        result[name] = digest
    return result
