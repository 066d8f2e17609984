"""The registry transport against real registry servers on 127.0.0.1.

Requests that must fail, or whose answers must be tampered with, go through a
small HTTP proxy in front of the real server; the registry itself is never faked.
"""

from __future__ import annotations

import http.client
import http.server
import logging
import socket
import threading
from contextlib import contextmanager

import pytest

from release.credentials import Credentials
from release.errors import ConfigError, PublishError, VerificationError
from release.localregistry import ensure_loopback, start_registry, tool_cache_dir
from release.oci import (
    BINARY_MEDIA_TYPE,
    EMPTY_CONFIG,
    EMPTY_CONFIG_DESCRIPTOR,
    Descriptor,
    binary_manifest,
    file_descriptor,
    sha256_digest,
)
from release.registry import RegistryClient
from release.runner import Runner

pytestmark = pytest.mark.integration

_UNAUTHORIZED = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class _Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream, *, failures, tamper_blobs, refuse):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.failures = failures
        self.tamper_blobs = tamper_blobs
        self.refuse = refuse
        self.requests = []
        self.lock = threading.Lock()

    @property
    def address(self):
        return f"127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Proxy

    def log_message(self, format, *args):  # noqa: A002 (the name http.server uses)
        """Keep the test output quiet."""

    def _handle(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.requests.append((self.command, self.path))
            failing = self.server.failures > 0
            self.server.failures -= failing
        if failing:
            self._answer(503, {"Retry-After": "0"}, b"")
            return
        if self.command == self.server.refuse:
            self._answer(401, {"Content-Type": "application/json"}, _UNAUTHORIZED)
            return

        host, port = self.server.upstream.split(":")
        upstream = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            # The Host header is passed on so upload Locations point back here.
            upstream.request(
                self.command, self.path, body=body or None, headers=dict(self.headers)
            )
            response = upstream.getresponse()
            payload = response.read()
            headers = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
        finally:
            upstream.close()

        is_blob = "/blobs/sha256:" in self.path and self.command == "GET"
        if self.server.tamper_blobs and is_blob and payload:
            payload = bytes([payload[0] ^ 0xFF]) + payload[1:]
        length = response.getheader("Content-Length") if self.command == "HEAD" else None
        self._answer(response.status, headers, payload, length)

    def _answer(self, status, headers, payload, length=None):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", length or str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815


@contextmanager
def proxy(upstream, *, failures=0, tamper_blobs=False, refuse=None):
    """A proxy to ``upstream`` that fails the first ``failures`` requests with 503,
    alters blob content when ``tamper_blobs``, and answers 401 to ``refuse`` requests."""
    server = _Proxy(upstream, failures=failures, tamper_blobs=tamper_blobs, refuse=refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def binary(tmp_path):
    path = tmp_path / "zot-linux-amd64"
    path.write_bytes(b"\x7fELF" + bytes(range(256)) * 4000)
    return path


@pytest.fixture
def layer(binary):
    return file_descriptor(binary, media_type=BINARY_MEDIA_TYPE, title=binary.name)


def client(address, **options):
    return RegistryClient(address, insecure=True, backoff=0.01, **options)


def push_artifact(registry_client, repository, binary, layer):
    registry_client.push_blob(repository, layer, path=binary)
    registry_client.push_blob(repository, EMPTY_CONFIG_DESCRIPTOR, data=EMPTY_CONFIG)
    manifest = binary_manifest(layer=layer, annotations={"org.opencontainers.image.version": "1"})
    registry_client.put_manifest(repository, manifest, sha256_digest(manifest))
    return manifest


def test_push_blob_uploads_once_and_skips_upload_when_present(registry, repository, binary, layer):
    with proxy(registry.address) as recorder:
        registry_client = client(recorder.address)

        first = registry_client.push_blob(repository, layer, path=binary)
        uploads_after_first = [r for r in recorder.requests if r[0] in {"POST", "PUT"}]
        second = registry_client.push_blob(repository, layer, path=binary)
        uploads_after_second = [r for r in recorder.requests if r[0] in {"POST", "PUT"}]

    assert first is True
    assert second is False
    assert len(uploads_after_first) == 2  # start the session, then commit the blob
    assert uploads_after_second == uploads_after_first
    assert client(registry.address).blob_exists(repository, layer.digest)


def test_push_blob_from_bytes_stores_the_empty_config(registry, repository):
    registry_client = client(registry.address)

    # Whether it uploads depends on the server: one that keeps blobs across
    # repositories may already hold this two-byte blob from another test.
    registry_client.push_blob(repository, EMPTY_CONFIG_DESCRIPTOR, data=EMPTY_CONFIG)

    assert registry_client.blob_exists(repository, EMPTY_CONFIG_DESCRIPTOR.digest)


def test_push_blob_refuses_bytes_that_do_not_match_the_descriptor(registry, repository):
    wrong = Descriptor(media_type=BINARY_MEDIA_TYPE, digest=sha256_digest(b"a"), size=1)

    with pytest.raises(VerificationError, match=repository):
        client(registry.address).push_blob(repository, wrong, data=b"b")


def test_blob_exists_is_false_for_an_unknown_digest(registry, repository):
    assert not client(registry.address).blob_exists(repository, sha256_digest(b"never pushed"))


def test_manifest_put_by_digest_then_by_tag_comes_back_byte_identical(
    registry, repository, binary, layer
):
    registry_client = client(registry.address)
    manifest = push_artifact(registry_client, repository, binary, layer)

    digest = registry_client.put_manifest(repository, manifest, "v2.1.0")
    by_tag = registry_client.get_manifest(repository, "v2.1.0")
    by_digest = registry_client.get_manifest(repository, digest)

    assert digest == sha256_digest(manifest)
    assert by_tag == (manifest, digest)
    assert by_digest == (manifest, digest)


def test_put_manifest_refuses_a_digest_reference_of_other_bytes(registry, repository):
    manifest = binary_manifest(layer=EMPTY_CONFIG_DESCRIPTOR, annotations={})

    with pytest.raises(PublishError, match="not the reference"):
        client(registry.address).put_manifest(repository, manifest, sha256_digest(b"other"))


def test_put_manifest_of_unknown_layers_is_refused_by_distribution(
    distribution_registry, repository
):
    # distribution checks that layers exist; the oci kind's server does not.
    missing = Descriptor(media_type=BINARY_MEDIA_TYPE, digest=sha256_digest(b"x"), size=1)
    manifest = binary_manifest(layer=missing, annotations={})
    where = f"{distribution_registry.address}/{repository}"

    with pytest.raises(PublishError, match=rf"{where}: manifest upload refused \(400 MANIFEST_"):
        client(distribution_registry.address).put_manifest(repository, manifest, "v1")


def test_refused_manifest_upload_names_status_and_hides_the_password(
    registry, repository, layer, caplog
):
    secret = "s3cret-never-shown"
    with proxy(registry.address, refuse="PUT") as refusing:
        registry_client = client(refusing.address, credentials=Credentials("bot", secret))
        with caplog.at_level(logging.DEBUG), pytest.raises(PublishError) as caught:
            registry_client.put_manifest(
                repository, binary_manifest(layer=layer, annotations={}), "v1"
            )

    message = str(caught.value)
    assert message.startswith(f"{refusing.address}/{repository}: manifest upload refused")
    assert "(401 UNAUTHORIZED)" in message
    assert "write:packages" in message
    assert secret not in message
    assert secret not in caplog.text
    assert secret not in repr(registry_client)


def test_get_manifest_of_a_missing_tag_returns_none(registry, repository, binary, layer):
    registry_client = client(registry.address)
    push_artifact(registry_client, repository, binary, layer)

    assert registry_client.get_manifest(repository, "no-such-tag") is None
    assert registry_client.get_manifest(f"{repository}-absent", "v1") is None


def test_fetch_blob_writes_the_verified_content(registry, repository, binary, layer, tmp_path):
    registry_client = client(registry.address)
    registry_client.push_blob(repository, layer, path=binary)
    dest = tmp_path / "fetched"

    registry_client.fetch_blob(repository, layer, dest)

    assert dest.read_bytes() == binary.read_bytes()


def test_fetch_blob_with_a_wrong_size_expectation_raises_verification_error(
    registry, repository, binary, layer, tmp_path
):
    registry_client = client(registry.address)
    registry_client.push_blob(repository, layer, path=binary)
    tampered = Descriptor(media_type=layer.media_type, digest=layer.digest, size=layer.size + 1)
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    with pytest.raises(VerificationError, match=f"{repository}: blob {layer.digest}"):
        registry_client.fetch_blob(repository, tampered, downloads / "fetched")
    assert list(downloads.iterdir()) == []  # no partial file is left behind


def test_fetch_blob_of_altered_content_raises_verification_error(
    registry, repository, binary, layer, tmp_path
):
    client(registry.address).push_blob(repository, layer, path=binary)
    dest = tmp_path / "fetched"

    with proxy(registry.address, tamper_blobs=True) as tampering:
        registry_client = client(tampering.address)
        with pytest.raises(VerificationError, match=f"{repository}: blob {layer.digest}"):
            registry_client.fetch_blob(repository, layer, dest)
    assert not dest.exists()


def test_requests_answered_503_are_retried_until_the_registry_answers(
    registry, repository, binary, layer
):
    with proxy(registry.address, failures=3) as flaky:
        registry_client = client(flaky.address, retries=4)
        manifest = push_artifact(registry_client, repository, binary, layer)
        fetched = registry_client.get_manifest(repository, sha256_digest(manifest))
        seen = len(flaky.requests)

    assert fetched == (manifest, sha256_digest(manifest))
    assert flaky.failures == 0
    assert seen > 3


def test_more_503s_than_retries_raise_publish_error(registry, repository, layer):
    with proxy(registry.address, failures=10) as flaky:
        registry_client = client(flaky.address, retries=2)
        with pytest.raises(PublishError, match=r"blob check refused \(503"):
            registry_client.blob_exists(repository, layer.digest)
        attempts = len(flaky.requests)

    assert attempts == 3  # the first try and two retries


def test_connection_refused_raises_publish_error_after_retries():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    # Nothing listens on the port once the probe is closed.

    with pytest.raises(PublishError, match="blob check failed: ConnectionError"):
        client(address, retries=1).blob_exists("project-zot/zot", sha256_digest(b""))


@pytest.mark.parametrize("address", ["ghcr.io", "10.0.0.1:5000", "example.com:5000"])
def test_ensure_loopback_refuses_remote_registries(address):
    with pytest.raises(ConfigError, match="not a loopback registry"):
        ensure_loopback(address)


@pytest.mark.parametrize("address", ["127.0.0.1:5000", "localhost:1", "[::1]:5000", "127.1.2.3"])
def test_ensure_loopback_accepts_loopback_addresses(address):
    ensure_loopback(address)


def test_registry_port_is_closed_after_the_context_exits(tmp_path):
    storage = tmp_path / "storage"
    with start_registry(
        "oci", runner=Runner(), storage=storage, cache=tool_cache_dir()
    ) as running:
        host, port = running.address.split(":")
        socket.create_connection((host, int(port)), timeout=2).close()

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()
    assert storage.is_dir()  # storage given by the caller is left in place


def test_registry_is_stopped_and_temporary_storage_removed_on_keyboard_interrupt():
    seen = {}

    def interrupted():
        with start_registry("distribution", runner=Runner()) as running:
            seen["storage"] = running.storage
            seen["address"] = running.address
            assert running.storage.is_dir()
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()

    assert not seen["storage"].exists()
    host, port = seen["address"].split(":")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()
