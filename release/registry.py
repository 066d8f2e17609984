"""Registry transport: push and fetch blobs and manifests over the OCI distribution API.

oras-py (``oras.provider.Registry``) carries the HTTP: its auth backends do the
Bearer token handshake and basic auth, ``put_upload`` uploads blobs and
``get_blob`` checks for and streams them. What it lacks is filled in here, in
``_Transport`` and ``RegistryClient``, and nowhere else:

- manifests are pushed as the exact bytes given (oras-py re-serialises a dict
  and forces one media type, which changes the digest and rules out indexes and
  ``artifactType``), and digests are checked both ways;
- 429, 5xx and connection errors are retried a bounded number of times with
  exponential backoff and ``Retry-After`` (oras-py retries only 500 and any
  exception, with fixed sleeps of several seconds, see ``_Transport``);
- failures become one-line ``PublishError`` s naming registry, repository,
  operation and status.

Credentials are handed to the oras-py auth backend and never logged or shown.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import oras.auth
import oras.container
import oras.provider
import requests

from release.errors import PublishError, VerificationError
from release.oci import INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, sha256_digest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from release.credentials import Credentials
    from release.oci import Descriptor

__all__ = ["RegistryClient"]

logger = logging.getLogger(__name__)

_RETRY_AFTER_CAP = 60.0
_CHUNK = 1024 * 1024
_ACCEPT_MANIFESTS = (
    f"{MANIFEST_MEDIA_TYPE}, {INDEX_MEDIA_TYPE}, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json"
)
_HTTP_OK = 200
_HTTP_CREATED = 201
_HTTP_UNAUTHORIZED = 401
_HTTP_FORBIDDEN = 403
_HTTP_NOT_FOUND = 404
_HTTP_TOO_MANY = 429
_HTTP_SERVER_ERROR = 500

# oras-py decorates Registry.do_request with decorator.retry (oras/decorator.py:31,
# applied at oras/provider.py:973): it turns a 500 into an exception, retries every
# exception (auth refusals included) five times sleeping 2 + 3**n seconds, and lets
# 429/502/503 through untouched. The undecorated function is used instead, inside
# the bounded loop of _Transport.do_request.
_ORAS_DO_REQUEST: Callable[..., requests.Response] = oras.provider.Registry.do_request.__wrapped__


def _retryable(status: int) -> bool:
    return status == _HTTP_TOO_MANY or status >= _HTTP_SERVER_ERROR


def _retry_after(response: requests.Response) -> float | None:
    """Seconds the server asked us to wait, from a number or an HTTP date."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), _RETRY_AFTER_CAP)
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        wait = (when - datetime.now(UTC)).total_seconds()
        return min(max(wait, 0.0), _RETRY_AFTER_CAP)
    return None


def _challenge_scheme(response: requests.Response) -> str:
    return response.headers.get("Www-Authenticate", "").split(" ", 1)[0].lower()


class _Transport(oras.provider.Registry):  # type: ignore[misc]
    """oras-py's Registry with a bounded retry loop and auth chosen from the challenge.

    Every request oras-py makes (uploads, HEADs, token handshakes' retried
    calls) goes through ``do_request``, so this is the one place retries and
    auth fixes live.
    """

    def __init__(
        self,
        registry: str,
        *,
        credentials: Credentials | None,
        insecure: bool,
        retries: int,
        backoff: float,
    ) -> None:
        super().__init__(hostname=registry, insecure=insecure, auth_backend="token")
        self._credentials = credentials
        self._retries = retries
        self._backoff = backoff
        self._auth_chosen = False
        # oras-py raises bare exceptions from inside its own requests (a 401 it
        # cannot answer, oras/provider.py:1022); a session hook keeps the last
        # response so the error can still name the status.
        self.last_response: requests.Response | None = None
        self.session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *_args: object, **_kwargs: object) -> None:
        self.last_response = response

    def do_request(  # noqa: PLR0917 (oras-py calls it with positional arguments)
        self,
        url: str,
        method: str = "GET",
        data: Any = None,  # noqa: ANN401 (oras-py passes bytes, dicts or None)
        headers: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        attempt = 0
        while True:
            try:
                response = self._send(url, method, data, headers, json, stream)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self._retries:
                    raise
                delay = self._backoff * 2**attempt
                reason = type(exc).__name__
            else:
                if not _retryable(response.status_code) or attempt >= self._retries:
                    return response
                retry_after = _retry_after(response)
                delay = self._backoff * 2**attempt if retry_after is None else retry_after
                reason = str(response.status_code)
                response.close()
            attempt += 1
            logger.warning(
                "%s %s: %s, retry %d of %d in %.1fs",
                method,
                url,
                reason,
                attempt,
                self._retries,
                delay,
            )
            time.sleep(delay)

    def _send(  # noqa: PLR0917 (the arguments of do_request, passed on as they are)
        self,
        url: str,
        method: str,
        data: Any,  # noqa: ANN401 (as do_request)
        headers: dict[str, str] | None,
        json: dict[str, Any] | None,
        stream: bool,
    ) -> requests.Response:
        if not self._auth_chosen:
            ping = self._choose_auth()
            if ping is not None:
                return ping

        # oras-py's do_request adds to the headers it is given: a fresh copy per try.
        sent = dict(headers or {})
        if isinstance(self.auth, oras.auth.BasicAuth):
            # oras-py sends basic credentials only after a 401, so every body
            # would go out twice; send them up front instead.
            sent.update(self.auth.get_auth_header())
        response = _ORAS_DO_REQUEST(self, url, method, data, sent, json, stream)

        # oras-py keeps one Bearer token for every later request (oras/auth/token.py:71):
        # a token for pull scope is resent on a push and refused again. Drop it
        # so the next handshake asks for the scope this request's challenge names.
        token_auth = isinstance(self.auth, oras.auth.TokenAuth)
        if response.status_code == _HTTP_UNAUTHORIZED and token_auth and self.auth.token:
            self.auth.token = None
            response.close()
            response = _ORAS_DO_REQUEST(self, url, method, data, dict(headers or {}), json, stream)
        return response

    def _choose_auth(self) -> requests.Response | None:
        """Ask /v2/ which auth scheme the registry wants and set up oras-py for it.

        oras-py's default (token) backend treats any challenge as Bearer and
        fetches the realm of a Basic challenge as a URL, so Basic is detected
        here. Returns the ping response when it should be retried instead.
        """
        ping: requests.Response = self.session.request(
            "GET", f"{self.prefix}://{self.hostname}/v2/", verify=self._tls_verify
        )
        if _retryable(ping.status_code):
            return ping
        ping.close()

        basic = _challenge_scheme(ping) == "basic"
        if basic and self._credentials is not None:
            self.auth = oras.auth.get_auth_backend(
                "basic", self.session, self.prefix == "http", tls_verify=self._tls_verify
            )
        if self._credentials is not None:
            self.auth.set_basic_auth(self._credentials.username, self._credentials.password)
        self._auth_chosen = True
        return None


class RegistryClient:
    """Pushes and fetches content of one registry, checking every digest it handles.

    ``registry`` is ``host[:port]``; ``insecure`` means plain HTTP, meant for
    registries on the loopback interface.
    """

    def __init__(
        self,
        registry: str,
        *,
        credentials: Credentials | None = None,
        insecure: bool = False,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.registry = registry
        self._has_credentials = credentials is not None
        self._transport = _Transport(
            registry,
            credentials=credentials,
            insecure=insecure,
            retries=retries,
            backoff=backoff,
        )

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry!r})"

    # Blobs

    def blob_exists(self, repository: str, digest: str) -> bool:
        """Whether ``repository`` already holds the blob ``digest``."""
        return self._blob_size(repository, digest, "blob check") is not None

    def push_blob(
        self,
        repository: str,
        descriptor: Descriptor,
        path: Path | None = None,
        data: bytes | None = None,
    ) -> bool:
        """Upload the blob from ``path`` or ``data``; False when it was already there.

        1. skip when the registry already has the digest;
        2. upload through oras-py (the registry checks the digest on commit);
        3. confirm with a HEAD that it is now there with the declared size.
        """
        if (path is None) == (data is None):
            raise ValueError("push_blob takes exactly one of path and data")
        if data is not None:
            self._check_data(repository, descriptor, data)

        # 1. Skip when present.
        if self.blob_exists(repository, descriptor.digest):
            logger.debug("%s: blob %s already present", self._where(repository), descriptor.digest)
            return False

        # 2. Upload.
        if path is not None:
            self._upload(repository, descriptor, path)
        else:
            with tempfile.TemporaryDirectory(prefix="zot-release-blob-") as tmp:
                staged = Path(tmp) / "blob"
                staged.write_bytes(data or b"")
                self._upload(repository, descriptor, staged)

        # 3. Confirm.
        size = self._blob_size(repository, descriptor.digest, "blob upload check")
        if size is None:
            raise PublishError(
                f"{self._where(repository)}: blob {descriptor.digest} missing after upload"
            )
        if size != descriptor.size:
            raise PublishError(
                f"{self._where(repository)}: blob {descriptor.digest} has {size} bytes "
                f"after upload, expected {descriptor.size}"
            )
        logger.debug("%s: pushed blob %s", self._where(repository), descriptor.digest)
        return True

    def fetch_blob(self, repository: str, descriptor: Descriptor, dest: Path) -> None:
        """Stream the blob to ``dest``, which appears only once size and digest match."""
        container = self._container(repository)
        partial = dest.with_name(f".{dest.name}.partial")
        hasher = hashlib.sha256()
        size = 0
        try:
            with self._oras_call(repository, "blob download"):
                response = self._transport.get_blob(container, descriptor.digest, stream=True)
            with response:
                self._check_status(response, repository, "blob download", {_HTTP_OK})
                with partial.open("wb") as out:
                    for chunk in response.iter_content(chunk_size=_CHUNK):
                        hasher.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            got = f"sha256:{hasher.hexdigest()}"
            if size != descriptor.size or got != descriptor.digest:
                raise VerificationError(
                    f"{self._where(repository)}: blob {descriptor.digest} downloaded as "
                    f"{got} ({size} bytes, expected {descriptor.size})"
                )
            partial.replace(dest)
        finally:
            partial.unlink(missing_ok=True)

    # Manifests

    def put_manifest(
        self,
        repository: str,
        manifest: bytes,
        reference: str,
        media_type: str = MANIFEST_MEDIA_TYPE,
    ) -> str:
        """Put ``manifest`` under ``reference`` (a tag or its digest); return its digest."""
        digest = sha256_digest(manifest)
        if reference.startswith("sha256:") and reference != digest:
            raise PublishError(
                f"{self._where(repository)}: manifest is {digest}, not the reference {reference}"
            )

        url = self._manifest_url(repository, reference)
        with self._oras_call(repository, "manifest upload"):
            response = self._transport.do_request(
                url, "PUT", data=manifest, headers={"Content-Type": media_type}
            )
        with response:
            self._check_status(response, repository, "manifest upload", {_HTTP_CREATED})
            answered = response.headers.get("Docker-Content-Digest")
        if answered and answered != digest:
            raise PublishError(
                f"{self._where(repository)}: registry stored manifest {reference} as "
                f"{answered}, but the bytes sent are {digest}"
            )
        logger.debug("%s: put manifest %s as %s", self._where(repository), digest, reference)
        return digest

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str] | None:
        """The manifest bytes under ``reference`` and their digest; None when unknown."""
        url = self._manifest_url(repository, reference)
        with self._oras_call(repository, "manifest download"):
            response = self._transport.do_request(
                url, "GET", headers={"Accept": _ACCEPT_MANIFESTS}
            )
        with response:
            if response.status_code == _HTTP_NOT_FOUND:
                return None
            self._check_status(response, repository, "manifest download", {_HTTP_OK})
            body = response.content
            answered = response.headers.get("Docker-Content-Digest")

        digest = sha256_digest(body)
        for claimed, source in ((answered, "the registry's header"), (reference, "reference")):
            if claimed and claimed.startswith("sha256:") and claimed != digest:
                raise VerificationError(
                    f"{self._where(repository)}: manifest {reference} is {digest}, "
                    f"but {source} says {claimed}"
                )
        return body, digest

    # Helpers

    def _upload(self, repository: str, descriptor: Descriptor, path: Path) -> None:
        layer = {"digest": descriptor.digest, "size": descriptor.size}
        container = self._container(repository)
        with self._oras_call(repository, "blob upload"):
            # put_upload reads the whole file into memory (oras/provider.py:559);
            # release binaries are tens of MB, which is acceptable.
            response = self._transport.put_upload(str(path), container, layer)
        with response:
            self._check_status(response, repository, "blob upload", {_HTTP_CREATED})

    def _blob_size(self, repository: str, digest: str, operation: str) -> int | None:
        container = self._container(repository)
        with self._oras_call(repository, operation):
            response = self._transport.get_blob(container, digest, head=True)
        with response:
            if response.status_code == _HTTP_NOT_FOUND:
                return None
            self._check_status(response, repository, operation, {_HTTP_OK})
            length = response.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise PublishError(
                f"{self._where(repository)}: {operation}: no Content-Length for {digest}"
            )
        return int(length)

    def _check_data(self, repository: str, descriptor: Descriptor, data: bytes) -> None:
        if sha256_digest(data) != descriptor.digest or len(data) != descriptor.size:
            raise VerificationError(
                f"{self._where(repository)}: data to push does not match {descriptor.digest}"
            )

    def _container(self, repository: str) -> oras.container.Container:
        container = oras.container.Container(f"{self.registry}/{repository}", self.registry)
        # oras-py parses names with a regex; refuse anything it would split differently.
        if container.registry != self.registry or container.api_prefix != repository:
            raise PublishError(f"{self.registry}: {repository!r} is not a repository name")
        return container

    def _manifest_url(self, repository: str, reference: str) -> str:
        container = self._container(repository)
        return f"{self._transport.prefix}://{container.manifest_url(reference)}"

    def _where(self, repository: str) -> str:
        return f"{self.registry}/{repository}"

    @contextlib.contextmanager
    def _oras_call(self, repository: str, operation: str) -> Iterator[None]:
        """Turn what oras-py or requests raise into one PublishError line.

        oras-py raises bare ValueErrors (e.g. no upload session URL,
        oras/provider.py:544) without the status; the last response seen by
        the transport supplies it.
        """
        self._transport.last_response = None
        try:
            yield
        except (requests.RequestException, ValueError) as exc:
            last = self._transport.last_response
            if last is not None and last.status_code >= _HTTP_UNAUTHORIZED:
                raise self._refusal(last, repository, operation) from exc
            raise PublishError(
                f"{self._where(repository)}: {operation} failed: {type(exc).__name__}",
                hint="check that the registry is reachable",
            ) from exc

    def _check_status(
        self,
        response: requests.Response,
        repository: str,
        operation: str,
        expected: set[int],
    ) -> None:
        if response.status_code not in expected:
            raise self._refusal(response, repository, operation)

    def _refusal(
        self, response: requests.Response, repository: str, operation: str
    ) -> PublishError:
        code = _error_code(response) or response.reason or "error"
        message = f"{self._where(repository)}: {operation} refused ({response.status_code} {code})"
        hint = None
        if response.status_code in {_HTTP_UNAUTHORIZED, _HTTP_FORBIDDEN}:
            hint = (
                "check GITHUB_TOKEN has write:packages, or REGISTRY_USERNAME/REGISTRY_PASSWORD"
                if self._has_credentials
                else "no credentials: set GITHUB_TOKEN or REGISTRY_USERNAME/REGISTRY_PASSWORD"
            )
            message = f"{message}: {hint}"
        return PublishError(message, hint=hint)


def _error_code(response: requests.Response) -> str | None:
    """The first OCI error code in the body (e.g. MANIFEST_INVALID), if any."""
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = errors[0].get("code")
        return str(code) if code else None
    return None
