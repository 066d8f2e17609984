"""Where registry credentials come from, in the order they are looked for.

1. ``REGISTRY_USERNAME`` and ``REGISTRY_PASSWORD``, set together;
2. ``GITHUB_TOKEN``, with ``GITHUB_ACTOR`` as the user name when set;
3. the Docker config (``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``).

Passwords stay inside the ``Credentials`` value: its repr hides them, and no log
line or exception built here contains one.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from release.errors import ConfigError

__all__ = ["GITHUB_TOKEN_USERNAME", "Credentials", "credentials_for", "docker_config_path"]

logger = logging.getLogger(__name__)

# ghcr.io checks only the token; any non-empty user name is accepted with it.
GITHUB_TOKEN_USERNAME = "x-access-token"  # noqa: S105 (a user name, not a secret)


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or token) for one registry."""

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"

    __str__ = __repr__


def docker_config_path(environ: Mapping[str, str]) -> Path:
    """The Docker client's config file, honouring ``$DOCKER_CONFIG`` like the client."""
    directory = environ.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    return Path.home() / ".docker" / "config.json"


def credentials_for(
    registry: str,
    *,
    environ: Mapping[str, str] | None = None,
    docker_config: Path | None = None,
) -> Credentials | None:
    """Find credentials for ``registry`` (host[:port]); None means anonymous.

    ``environ`` defaults to the process environment and ``docker_config`` to
    the file named by it, so tests can pass both explicitly.
    """
    env = os.environ if environ is None else environ

    username = env.get("REGISTRY_USERNAME", "")
    password = env.get("REGISTRY_PASSWORD", "")
    if username and password:
        logger.debug("credentials for %s from REGISTRY_USERNAME", registry)
        return Credentials(username, password)
    if username or password:
        missing = "REGISTRY_PASSWORD" if username else "REGISTRY_USERNAME"
        raise ConfigError(
            f"REGISTRY_USERNAME and REGISTRY_PASSWORD go together: {missing} is not set"
        )

    token = env.get("GITHUB_TOKEN", "")
    if token:
        actor = env.get("GITHUB_ACTOR") or GITHUB_TOKEN_USERNAME
        logger.debug("credentials for %s from GITHUB_TOKEN (user %s)", registry, actor)
        return Credentials(actor, token)

    path = docker_config if docker_config is not None else docker_config_path(env)
    return _from_docker_config(registry, path)


def _from_docker_config(registry: str, path: Path) -> Credentials | None:
    if not path.is_file():
        return None
    config = _read_config(path)

    # Credential helpers run an external program per lookup; this package reads
    # only inline credentials, so a helper-only setup has to use the variables.
    helper = config.get("credHelpers", {}).get(registry) or config.get("credsStore")
    entry = _auth_entry(config.get("auths", {}), registry)
    if entry is None:
        if helper:
            logger.warning(
                "%s names credential helper %r for %s; helpers are not supported, "
                "set REGISTRY_USERNAME and REGISTRY_PASSWORD instead",
                path,
                helper,
                registry,
            )
        return None

    credentials = _decode_entry(entry, registry, path)
    if credentials is None and helper:
        logger.warning(
            "%s: no inline credentials for %s and credential helper %r is not supported",
            path,
            registry,
            helper,
        )
    if credentials is not None:
        logger.debug("credentials for %s from %s", registry, path)
    return credentials


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the Docker config: {exc.strerror}") from exc
    try:
        config = json.loads(text)
    except ValueError:
        # A JSON error carries the whole document, secrets included, so it is not chained.
        raise ConfigError(f"{path}: the Docker config is not valid JSON") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the Docker config is not a JSON object")
    return config


def _auth_entry(auths: object, registry: str) -> Mapping[str, Any] | None:
    """The ``auths`` entry for ``registry``, also under the URL forms docker writes."""
    if not isinstance(auths, Mapping):
        return None
    for key in (registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v1/"):
        entry = auths.get(key)
        if isinstance(entry, Mapping):
            return entry
    return None


def _decode_entry(entry: Mapping[str, Any], registry: str, path: Path) -> Credentials | None:
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ConfigError(f"{path}: auths.{registry}.auth is not base64") from exc
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            # The decode error holds the decoded bytes, password included: not chained.
            raise ConfigError(f"{path}: auths.{registry}.auth is not UTF-8") from None
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            raise ConfigError(f"{path}: auths.{registry}.auth is not base64 of user:password")
        return Credentials(username, password)

    plain_user = entry.get("username")
    plain_password = entry.get("password")
    if not isinstance(plain_user, str) or not isinstance(plain_password, str):
        return None
    if plain_user and plain_password:
        return Credentials(plain_user, plain_password)
    return None
