"""OCI descriptors and the manifest that carries one release binary.

Pure data: nothing here talks to a registry. The manifest bytes are built
deterministically (fixed key order, compact separators, sorted annotations), so
publishing the same binary with the same annotations twice yields the same
manifest digest, and a re-run of a release is a no-op at the registry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from release.hashing import file_sha256

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = [
    "ARTIFACT_TYPE",
    "BINARY_MEDIA_TYPE",
    "EMPTY_CONFIG",
    "EMPTY_CONFIG_DESCRIPTOR",
    "EMPTY_CONFIG_MEDIA_TYPE",
    "INDEX_MEDIA_TYPE",
    "MANIFEST_MEDIA_TYPE",
    "TITLE_ANNOTATION",
    "Descriptor",
    "binary_manifest",
    "canonical_json",
    "file_descriptor",
    "sha256_digest",
]

ARTIFACT_TYPE = "application/vnd.project-zot.zot.binary.v1"
BINARY_MEDIA_TYPE = "application/octet-stream"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
EMPTY_CONFIG_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"
TITLE_ANNOTATION = "org.opencontainers.image.title"


def sha256_digest(data: bytes) -> str:
    """Return the OCI digest string ``sha256:<hex>`` of ``data``."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@dataclass(frozen=True, kw_only=True)
class Descriptor:
    """An OCI content descriptor: what a manifest says about one blob."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] | None = None
    artifact_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The descriptor as OCI JSON, optional fields only when set."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.artifact_type is not None:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        return out


EMPTY_CONFIG_DESCRIPTOR = Descriptor(
    media_type=EMPTY_CONFIG_MEDIA_TYPE,
    digest=sha256_digest(EMPTY_CONFIG),
    size=len(EMPTY_CONFIG),
)


def file_descriptor(path: Path, *, media_type: str, title: str) -> Descriptor:
    """Describe the file at ``path``, hashing it in chunks rather than loading it."""
    return Descriptor(
        media_type=media_type,
        digest=f"sha256:{file_sha256(path)}",
        size=path.stat().st_size,
        annotations={TITLE_ANNOTATION: title},
    )


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """Serialise ``document`` the one way this package does, so digests are stable.

    Keys keep their insertion order (the order the OCI specification lists
    them in reads best); callers sort annotation maps themselves.
    """
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def binary_manifest(
    *,
    layer: Descriptor,
    annotations: Mapping[str, str],
    artifact_type: str = ARTIFACT_TYPE,
) -> bytes:
    """The OCI 1.1 image manifest for one binary ``layer``, as the bytes to push."""
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": artifact_type,
        "config": EMPTY_CONFIG_DESCRIPTOR.to_dict(),
        "layers": [layer.to_dict()],
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    return canonical_json(manifest)
