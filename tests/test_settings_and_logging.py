"""Settings come from settings.toml and CXLAYER_* variables; secrets never reach a log line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
from flask import Flask

from logs import REDACTED, configure_logging, get_logger
from settings import (
    ROOT,
    SettingsError,
    env_name,
    load_settings,
    require_zendesk_credentials,
    secret_values,
)


def test_environment_overrides_file_values_with_the_files_types() -> None:
    settings = load_settings(
        {
            "CXLAYER_ZENDESK_SUBDOMAIN": "acme",
            "CXLAYER_ZENDESK_URL": "http://127.0.0.1:8765",
            "CXLAYER_SERVICE_PORT": "8080",
            "CXLAYER_ZENDESK_READ_TIMEOUT": "12.5",
            "CXLAYER_DUPLICATES_NATIVE_MERGE": "yes",
            "CXLAYER_SWEEP_EXEMPT_TAGS": "vip, legal",
            "PATH": "/usr/bin",  # not ours: ignored
            "CXLAYER_TEST_DATABASE_URL": "postgresql://t@h/t",  # the test suite's, not a setting
        }
    )
    assert settings["zendesk"]["subdomain"] == "acme"
    assert settings["zendesk"]["url"] == "http://127.0.0.1:8765"
    assert settings["service"]["port"] == 8080
    assert settings["zendesk"]["read_timeout"] == 12.5
    assert settings["duplicates"]["native_merge"] is True
    assert settings["sweep"]["exempt_tags"] == ["vip", "legal"]


def test_documented_variable_names_are_accepted() -> None:
    environ = {
        "CXLAYER_ZENDESK_SUBDOMAIN": "acme",
        "CXLAYER_ZENDESK_URL": "http://127.0.0.1:1",
        "CXLAYER_ZENDESK_EMAIL": "bot@example.com",
        "CXLAYER_ZENDESK_TOKEN": "tok-123456",
        "CXLAYER_SERVICE_PUBLIC_URL": "https://cx.example.com",
        "CXLAYER_DATABASE_URL": "postgresql://cx:pw@db/cx",
        "CXLAYER_WEBHOOK_SECRETS": "old-secret-1,new-secret-2",
    }
    settings = load_settings(environ)
    assert settings["database"]["url"] == "postgresql://cx:pw@db/cx"
    assert settings["webhook"]["secrets"] == ["old-secret-1", "new-secret-2"]
    assert env_name("webhook", "secrets") == "CXLAYER_WEBHOOK_SECRETS"
    assert sorted(secret_values(settings)) == sorted(
        ["tok-123456", "postgresql://cx:pw@db/cx", "old-secret-1", "new-secret-2"]
    )


def test_a_mistyped_variable_fails_loudly_with_the_known_names() -> None:
    with pytest.raises(SettingsError, match="CXLAYER_ZENDESK_SUBDOMAN is not a cxlayer setting"):
        load_settings({"CXLAYER_ZENDESK_SUBDOMAN": "acme"})


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="CXLAYER_SERVICE_PORT"):
        load_settings({"CXLAYER_SERVICE_PORT": "eighty"})


def test_secrets_written_in_a_settings_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[zendesk]\nsubdomain = "x"\ntoken = "abc"\n')
    with pytest.raises(SettingsError, match="set CXLAYER_ZENDESK_TOKEN in the environment"):
        load_settings({}, path)


def test_missing_zendesk_secret_names_the_variables() -> None:
    with pytest.raises(SettingsError, match="CXLAYER_ZENDESK_EMAIL, CXLAYER_ZENDESK_TOKEN"):
        require_zendesk_credentials(load_settings({}))
    require_zendesk_credentials(load_settings({"CXLAYER_ZENDESK_OAUTH_TOKEN": "bearer-xyz"}))


def test_no_secret_reaches_the_rendered_log() -> None:
    """Known secret values, secret-looking keys, URL passwords and auth headers are redacted."""
    stream = io.StringIO()
    configure_logging("DEBUG", ["tok-SuperSecret-42"], stream=stream)
    log = get_logger("test")
    log.info(
        "calling zendesk",
        detail="sent tok-SuperSecret-42 to the API",
        token="another-secret-value",
        headers={"Authorization": "Basic YWRtaW46cGFzcw==", "Accept": "application/json"},
        database="postgresql://cx:hunter2pw@db:5432/cx",
        note="Authorization: Bearer abc.def.ghi",
    )
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    text = json.dumps(line)
    for secret in (
        "tok-SuperSecret-42",
        "another-secret-value",
        "YWRtaW46cGFzcw==",
        "hunter2pw",
        "abc.def.ghi",
    ):
        assert secret not in text
    assert line["token"] == REDACTED
    assert line["headers"]["Accept"] == "application/json"
    assert line["database"] == f"postgresql://cx:{REDACTED}@db:5432/cx"


def test_logs_are_json_lines_with_bound_context_off_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    with structlog.contextvars.bound_contextvars(ticket_id=42, invocation_id="inv-1"):
        get_logger("test").info("webhook accepted")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["event"] == "webhook accepted"
    assert (line["ticket_id"], line["invocation_id"], line["level"]) == (42, "inv-1", "info")


def test_app_answers_health_and_reads_no_process_environment(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXLAYER_ZENDESK_SUBDOMAIN", "from-process-env")
    app: Flask = make_app(ENVIRON={"CXLAYER_ZENDESK_SUBDOMAIN": "from-overrides"})
    assert app.config["CXLAYER"]["zendesk"]["subdomain"] == "from-overrides"
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_mappings_validate_needs_no_secret(make_app: Any) -> None:
    app: Flask = make_app()
    result = app.test_cli_runner().invoke(args=["mappings", "validate"])
    assert result.exit_code == 0, result.output
    assert result.output == "OK\n"


def test_a_mistyped_variable_gets_a_close_match() -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings({"CXLAYER_SWEEP_REMIND_AFTR": "3"})
    assert str(excinfo.value) == (
        "CXLAYER_SWEEP_REMIND_AFTR is not a cxlayer setting: did you mean CXLAYER_SWEEP_REMIND_AFTER?"
    )


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("CXLAYER_SWEEP_REMIND_AFTR=3", "did you mean CXLAYER_SWEEP_REMIND_AFTER?"),
        ("CXLAYER_SWEEP_REMIND_AFTER=three", "expected a whole number (the default is 3)"),
    ],
)
def test_the_cli_prints_one_line_and_no_traceback_on_bad_settings(
    variable: str, expected: str
) -> None:
    """As an admin meets it: `flask --app app ...` with a bad variable in the environment."""
    name, value = variable.split("=", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLAYER_")}
    env[name] = value
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "mappings", "validate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {name}")
    assert expected in line
