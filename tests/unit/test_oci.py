"""The OCI descriptors and binary manifests of release artifacts."""

from __future__ import annotations

import hashlib
import json

from release.oci import (
    ARTIFACT_TYPE,
    BINARY_MEDIA_TYPE,
    EMPTY_CONFIG,
    EMPTY_CONFIG_DESCRIPTOR,
    EMPTY_CONFIG_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    Descriptor,
    binary_manifest,
    file_descriptor,
    sha256_digest,
)

LAYER = Descriptor(
    media_type=BINARY_MEDIA_TYPE,
    digest="sha256:" + "a" * 64,
    size=42,
    annotations={"org.opencontainers.image.title": "zot-linux-amd64"},
)


def test_sha256_digest_is_prefixed_hex_of_the_bytes():
    assert sha256_digest(b"zot") == "sha256:" + hashlib.sha256(b"zot").hexdigest()


def test_empty_config_descriptor_describes_the_two_byte_object():
    assert EMPTY_CONFIG == b"{}"
    assert EMPTY_CONFIG_DESCRIPTOR.to_dict() == {
        "mediaType": EMPTY_CONFIG_MEDIA_TYPE,
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "size": 2,
    }


def test_descriptor_to_dict_uses_oci_keys_and_omits_unset_fields():
    plain = Descriptor(media_type="a/b", digest="sha256:00", size=1)
    assert plain.to_dict() == {"mediaType": "a/b", "digest": "sha256:00", "size": 1}

    full = Descriptor(
        media_type="a/b",
        digest="sha256:00",
        size=1,
        annotations={"z": "1", "a": "2"},
        artifact_type="x/y",
    )
    assert full.to_dict() == {
        "mediaType": "a/b",
        "digest": "sha256:00",
        "size": 1,
        "artifactType": "x/y",
        "annotations": {"a": "2", "z": "1"},
    }


def test_file_descriptor_hashes_the_file_and_sets_the_title(tmp_path):
    content = b"\x7fELF" + bytes(range(256)) * 5000  # larger than one read chunk
    path = tmp_path / "zot"
    path.write_bytes(content)

    descriptor = file_descriptor(path, media_type=BINARY_MEDIA_TYPE, title="zot-linux-amd64")

    assert descriptor.digest == sha256_digest(content)
    assert descriptor.size == len(content)
    assert descriptor.media_type == BINARY_MEDIA_TYPE
    assert descriptor.annotations == {"org.opencontainers.image.title": "zot-linux-amd64"}


def test_binary_manifest_has_exactly_the_oci_1_1_fields():
    manifest = json.loads(binary_manifest(layer=LAYER, annotations={"k": "v"}))

    assert manifest == {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": EMPTY_CONFIG_DESCRIPTOR.to_dict(),
        "layers": [LAYER.to_dict()],
        "annotations": {"k": "v"},
    }
    assert MANIFEST_MEDIA_TYPE == "application/vnd.oci.image.manifest.v1+json"


def test_binary_manifest_bytes_are_compact_with_fixed_key_order():
    raw = binary_manifest(layer=LAYER, annotations={"k": "v"})

    assert raw.startswith(
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        b'"artifactType":"application/vnd.project-zot.zot.binary.v1","config":{'
    )
    assert b" " not in raw
    assert list(json.loads(raw)) == [
        "schemaVersion",
        "mediaType",
        "artifactType",
        "config",
        "layers",
        "annotations",
    ]


def test_binary_manifest_is_deterministic_whatever_the_annotation_order():
    first = binary_manifest(layer=LAYER, annotations={"b": "2", "a": "1"})
    second = binary_manifest(layer=LAYER, annotations={"a": "1", "b": "2"})

    assert first == second
    assert sha256_digest(first) == sha256_digest(second)
    assert list(json.loads(first)["annotations"]) == ["a", "b"]


def test_binary_manifest_takes_another_artifact_type():
    raw = binary_manifest(layer=LAYER, annotations={}, artifact_type="application/x-test")

    manifest = json.loads(raw)
    assert manifest["artifactType"] == "application/x-test"
    assert "annotations" not in manifest
