"""Publishing a built release to an OCI registry, and reading it back.

Each binary becomes one OCI 1.1 image manifest in its own repository: the
empty config, one layer (the binary) and annotations that say what it is.
The order is the promise that nothing is half-published:

1. every version tag is checked first: one that names other content stops
   the release before anything is pushed (unless forced);
2. blobs, then each manifest by digest, each read back and compared;
3. tags, last, only once every manifest of the release is in place.

Re-publishing the same release is a no-op: present blobs are not uploaded,
and the manifests (stamped with the commit time, not the clock) have the same
digests as before.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from release.errors import PublishError, VerificationError
from release.hashing import file_sha256
from release.matrix import PublishSettings
from release.oci import (
    ARTIFACT_TYPE,
    BINARY_MEDIA_TYPE,
    EMPTY_CONFIG,
    EMPTY_CONFIG_DESCRIPTOR,
    TITLE_ANNOTATION,
    Descriptor,
    binary_manifest,
    sha256_digest,
)
from release.record import ArtifactRecord, ReleaseRecord

__all__ = [
    "Publication",
    "ReadBack",
    "Registry",
    "annotations_for",
    "plan_publication",
    "publish",
    "read_back",
]

logger = logging.getLogger(__name__)

ANNOTATION_PREFIX = "dev.zotregistry.release"


class Registry(Protocol):
    """What publishing needs of a registry client (release.registry.RegistryClient)."""

    def push_blob(
        self,
        repository: str,
        descriptor: Descriptor,
        path: Path | None = None,
        data: bytes | None = None,
    ) -> bool: ...

    def put_manifest(self, repository: str, manifest: bytes, reference: str) -> str: ...

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str] | None: ...

    def fetch_blob(self, repository: str, descriptor: Descriptor, dest: Path) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Publication:
    """One artifact, ready to push: its blob, its manifest, where it goes."""

    artifact: ArtifactRecord
    path: Path
    repository: str
    tags: tuple[str, ...]
    layer: Descriptor
    manifest: bytes
    digest: str

    @property
    def version_tag(self) -> str:
        return self.tags[0]


@dataclass(frozen=True, kw_only=True)
class ReadBack:
    artifact: ArtifactRecord
    digest: str | None
    problem: str | None

    @property
    def verified(self) -> bool:
        return self.problem is None


def annotations_for(record: ReleaseRecord, artifact: ArtifactRecord) -> dict[str, str]:
    return {
        "org.opencontainers.image.version": record.version,
        "org.opencontainers.image.revision": record.revision,
        "org.opencontainers.image.source": record.source,
        "org.opencontainers.image.created": record.created,
        "org.opencontainers.image.title": artifact.name,
        f"{ANNOTATION_PREFIX}.os": artifact.os,
        f"{ANNOTATION_PREFIX}.arch": artifact.arch,
        f"{ANNOTATION_PREFIX}.flavor": artifact.flavor,
        f"{ANNOTATION_PREFIX}.binary-type": artifact.binary_type,
    }


def plan_publication(
    record: ReleaseRecord, directory: Path, settings: PublishSettings
) -> list[Publication]:
    """Build the manifest of every artifact, after checking the files are the ones built.

    Raises:
        VerificationError: a file is missing or differs from release.json.
    """
    tags = settings.tags_for(record.version)
    publications = []
    for artifact in record.artifacts:
        path = directory / artifact.file
        if not path.is_file():
            raise VerificationError(f"{path}: missing; rebuild the release")
        if file_sha256(path) != artifact.sha256:
            raise VerificationError(
                f"{path}: sha256 differs from release.json; the file changed after the build"
            )
        layer = Descriptor(
            media_type=BINARY_MEDIA_TYPE,
            digest=f"sha256:{artifact.sha256}",
            size=artifact.size,
            annotations={TITLE_ANNOTATION: artifact.file},
        )
        manifest = binary_manifest(layer=layer, annotations=annotations_for(record, artifact))
        publications.append(
            Publication(
                artifact=artifact,
                path=path,
                repository=settings.repository(artifact.name),
                tags=tags,
                layer=layer,
                manifest=manifest,
                digest=sha256_digest(manifest),
            )
        )
    return publications


def publish(
    publications: Sequence[Publication],
    registry: Registry,
    *,
    force: bool = False,
    progress: Callable[[Publication, str], None] | None = None,
) -> list[ArtifactRecord]:
    """Push every publication; return the artifacts with repository, tags and digest.

    Raises:
        PublishError: a version tag names other content, or the registry failed.
    """
    notify = progress or (lambda _pub, _event: None)

    # 1. Refuse to move a version tag before anything is pushed.
    current: dict[tuple[str, str], str | None] = {}
    for pub in publications:
        for tag in pub.tags:
            found = registry.get_manifest(pub.repository, tag)
            current[pub.repository, tag] = found[1] if found else None
        named = current[pub.repository, pub.version_tag]
        if named not in {None, pub.digest} and not force:
            raise PublishError(
                f"{pub.repository}:{pub.version_tag} already names {named}, not "
                f"{pub.digest}; a published version is not replaced (use --force to do so)"
            )

    # 2. Blobs, then the manifest by digest, read back before going on.
    for pub in publications:
        notify(pub, "pushing")
        _push_content(pub, registry)
        notify(pub, "pushed")

    # 3. Tags, now that everything they will point to is in place.
    published = []
    for pub in publications:
        moved = [tag for tag in pub.tags if current[pub.repository, tag] != pub.digest]
        for tag in moved:
            registry.put_manifest(pub.repository, pub.manifest, tag)
        logger.info(
            "%s: %s -> %s",
            pub.repository,
            ", ".join(pub.tags),
            pub.digest if moved else f"{pub.digest} (unchanged)",
        )
        notify(pub, "tagged")
        published.append(
            replace(
                pub.artifact,
                repository=pub.repository,
                tags=pub.tags,
                manifest_digest=pub.digest,
            )
        )
    return published


def _push_content(pub: Publication, registry: Registry) -> None:
    registry.push_blob(pub.repository, EMPTY_CONFIG_DESCRIPTOR, data=EMPTY_CONFIG)
    uploaded = registry.push_blob(pub.repository, pub.layer, path=pub.path)
    logger.info(
        "%s: blob %s %s", pub.repository, pub.layer.digest, "uploaded" if uploaded else "present"
    )
    stored = registry.get_manifest(pub.repository, pub.digest)
    if stored is not None and stored[0] == pub.manifest:
        return
    registry.put_manifest(pub.repository, pub.manifest, pub.digest)
    stored = registry.get_manifest(pub.repository, pub.digest)
    if stored is None or stored[0] != pub.manifest:
        raise PublishError(
            f"{pub.repository}@{pub.digest}: the registry does not return the manifest "
            "it accepted; no tag was moved"
        )


def read_back(
    record: ReleaseRecord, directory: Path, checksums: dict[str, str], registry: Registry
) -> list[ReadBack]:
    """Pull every published artifact by each tag and compare it with what was built.

    ``registry`` should be a fresh client, so nothing cached from publishing
    takes part. The binaries in ``directory``, where present, are checked
    against the record too. Returns one row per artifact; the caller decides
    what a failed row means.
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="zot-release-pull-") as tmp:
        for artifact in record.artifacts:
            try:
                _check_local(directory / artifact.file, artifact)
                digest = _read_back_one(artifact, checksums, registry, Path(tmp))
            except (VerificationError, PublishError) as exc:
                rows.append(ReadBack(artifact=artifact, digest=None, problem=exc.message))
                continue
            rows.append(ReadBack(artifact=artifact, digest=digest, problem=None))
    return rows


def _check_local(path: Path, artifact: ArtifactRecord) -> None:
    if path.is_file() and file_sha256(path) != artifact.sha256:
        raise VerificationError(f"{path}: differs from release.json")


def _read_back_one(
    artifact: ArtifactRecord, checksums: dict[str, str], registry: Registry, tmp: Path
) -> str:
    if artifact.repository is None or artifact.manifest_digest is None:
        raise VerificationError(f"{artifact.name}: release.json says it was not published")
    where = f"{artifact.repository}"
    if checksums.get(artifact.file) != artifact.sha256:
        raise VerificationError(f"{artifact.file}: checksums file and release.json disagree")

    manifest = b""
    for tag in artifact.tags:
        found = registry.get_manifest(artifact.repository, tag)
        if found is None:
            raise VerificationError(f"{where}:{tag}: not found")
        if found[1] != artifact.manifest_digest:
            raise VerificationError(
                f"{where}:{tag}: names {found[1]}, release.json says {artifact.manifest_digest}"
            )
        manifest = found[0]

    document = json.loads(manifest)
    layers = document.get("layers", [])
    if document.get("artifactType") != ARTIFACT_TYPE or len(layers) != 1:
        raise VerificationError(f"{where}: not a zot binary artifact ({ARTIFACT_TYPE})")
    layer = layers[0]
    if layer.get("digest") != f"sha256:{artifact.sha256}" or layer.get("size") != artifact.size:
        raise VerificationError(
            f"{where}: layer is {layer.get('digest')} ({layer.get('size')} bytes), built "
            f"sha256:{artifact.sha256} ({artifact.size} bytes)"
        )
    if layer.get("annotations", {}).get(TITLE_ANNOTATION) != artifact.file:
        raise VerificationError(f"{where}: layer title is not {artifact.file}")

    dest = tmp / artifact.file
    registry.fetch_blob(
        artifact.repository,
        Descriptor(media_type=BINARY_MEDIA_TYPE, digest=layer["digest"], size=layer["size"]),
        dest,
    )
    if file_sha256(dest) != artifact.sha256:
        raise VerificationError(f"{where}: pulled blob differs from the built file")
    dest.unlink()
    return artifact.manifest_digest
