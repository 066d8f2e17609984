"""Where registry credentials come from, and that passwords stay hidden."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from release.credentials import GITHUB_TOKEN_USERNAME, Credentials, credentials_for
from release.errors import ConfigError

SECRET = "s3cret-value-never-shown"


def write_config(directory, config):
    path = directory / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def basic(user, password):
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_registry_variables_come_first(tmp_path):
    config = write_config(tmp_path, {"auths": {"ghcr.io": {"auth": basic("docker", "x")}}})
    environ = {
        "REGISTRY_USERNAME": "release-bot",
        "REGISTRY_PASSWORD": SECRET,
        "GITHUB_TOKEN": "token",
        "GITHUB_ACTOR": "actor",
    }

    found = credentials_for("ghcr.io", environ=environ, docker_config=config)

    assert found == Credentials("release-bot", SECRET)


def test_registry_username_without_password_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="REGISTRY_PASSWORD is not set"):
        credentials_for(
            "ghcr.io",
            environ={"REGISTRY_USERNAME": "release-bot"},
            docker_config=tmp_path / "none.json",
        )


def test_github_token_is_used_with_the_actor_as_user(tmp_path):
    environ = {"GITHUB_TOKEN": SECRET, "GITHUB_ACTOR": "octo-maintainer"}

    found = credentials_for("ghcr.io", environ=environ, docker_config=tmp_path / "none.json")

    assert found == Credentials("octo-maintainer", SECRET)


def test_github_token_without_actor_uses_the_placeholder_user(tmp_path):
    found = credentials_for(
        "ghcr.io", environ={"GITHUB_TOKEN": SECRET}, docker_config=tmp_path / "none.json"
    )

    assert found == Credentials(GITHUB_TOKEN_USERNAME, SECRET)
    assert GITHUB_TOKEN_USERNAME


def test_docker_config_auth_field_is_decoded(tmp_path):
    config = write_config(tmp_path, {"auths": {"ghcr.io": {"auth": basic("me", SECRET)}}})

    assert credentials_for("ghcr.io", environ={}, docker_config=config) == Credentials(
        "me", SECRET
    )


def test_docker_config_username_and_password_fields_are_read(tmp_path):
    config = write_config(
        tmp_path, {"auths": {"https://ghcr.io": {"username": "me", "password": SECRET}}}
    )

    assert credentials_for("ghcr.io", environ={}, docker_config=config) == Credentials(
        "me", SECRET
    )


def test_docker_config_is_found_through_the_docker_config_variable(tmp_path):
    write_config(tmp_path, {"auths": {"127.0.0.1:5000": {"auth": basic("me", SECRET)}}})

    found = credentials_for("127.0.0.1:5000", environ={"DOCKER_CONFIG": str(tmp_path)})

    assert found == Credentials("me", SECRET)


def test_docker_config_entry_of_another_registry_gives_nothing(tmp_path):
    config = write_config(tmp_path, {"auths": {"docker.io": {"auth": basic("me", SECRET)}}})

    assert credentials_for("ghcr.io", environ={}, docker_config=config) is None


def test_missing_docker_config_means_anonymous(tmp_path):
    assert credentials_for("ghcr.io", environ={}, docker_config=tmp_path / "none.json") is None


def test_credential_helper_is_reported_as_unsupported(tmp_path, caplog):
    config = write_config(tmp_path, {"credHelpers": {"ghcr.io": "secretservice"}})

    with caplog.at_level(logging.WARNING, logger="release.credentials"):
        found = credentials_for("ghcr.io", environ={}, docker_config=config)

    assert found is None
    assert "secretservice" in caplog.text
    assert "not supported" in caplog.text


def test_password_is_absent_from_repr_and_str():
    credentials = Credentials("me", SECRET)

    assert SECRET not in repr(credentials)
    assert SECRET not in str(credentials)
    assert SECRET not in f"{credentials!r} {credentials}"
    assert "me" in repr(credentials)


def test_password_is_absent_from_errors_about_a_broken_auth_entry(tmp_path):
    not_utf8 = base64.b64encode(b"me:" + SECRET.encode() + b"\xff").decode()
    config = write_config(tmp_path, {"auths": {"ghcr.io": {"auth": not_utf8}}})

    with pytest.raises(ConfigError) as caught:
        credentials_for("ghcr.io", environ={}, docker_config=config)

    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None


def test_password_is_absent_from_errors_about_invalid_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"ghcr.io": {"password": "' + SECRET + '"', encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        credentials_for("ghcr.io", environ={}, docker_config=path)

    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None


def test_password_is_absent_from_logs(tmp_path, caplog):
    config = write_config(tmp_path, {"auths": {"ghcr.io": {"auth": basic("me", SECRET)}}})

    with caplog.at_level(logging.DEBUG):
        credentials_for("ghcr.io", environ={"GITHUB_TOKEN": SECRET}, docker_config=config)
        credentials_for("ghcr.io", environ={}, docker_config=config)

    assert caplog.records
    assert SECRET not in caplog.text
