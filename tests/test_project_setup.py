import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from audit.models import TypeReclassification
from demo.agents import DEMO_AGENTS
from members.models import MemberAgent, MemberProfile
from registry.models import Agent

ROOT = Path(__file__).resolve().parent.parent


def test_no_migration_is_missing(db: None) -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_deploy_check_reports_nothing_serious() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "a-real-looking-secret-key-with-enough-entropy-8f3k2j5h7g9d1s0a4q6w",
        "ALLOWED_HOSTS": "registry.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    # Preloading HSTS is an opt-in commitment, not a misconfiguration.
    serious = [line for line in result.stderr.splitlines() if "security." in line and "W021" not in line]
    assert serious == [], result.stderr


def test_it_refuses_to_start_in_production_without_a_secret_key() -> None:
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0", "SECRET_KEY": ""}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_seed_demo_tells_the_story_and_is_idempotent(db: None) -> None:
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    assert MemberAgent.objects.count() == len(DEMO_AGENTS)
    assert {"bidcliq", "swivel"} <= set(MemberProfile.objects.values_list("slug", flat=True))
    assert Agent.objects.get(registration__profile__slug="bidcliq").type == "buying"
    assert TypeReclassification.objects.count() == len(DEMO_AGENTS)


@pytest.mark.parametrize("bad", ["ftp://x", "not a url"])
def test_seed_demo_refuses_a_bad_fleet_url(db: None, bad: str) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--fleet-url"):
        call_command("seed_demo", fleet_url=bad)


@pytest.mark.parametrize(
    "redis_url, says",
    [("redis://127.0.0.1:1/0", "The scheduler cannot start: Redis is unavailable"), ("", "REDIS_URL is not set")],
)
def test_the_scheduler_fails_in_one_clean_line_without_redis(redis_url: str, says: str) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": "sqlite:///:memory:",
        "REDIS_URL": redis_url,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "rqcron", "config.cron"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    [line] = [line for line in result.stderr.splitlines() if not line.startswith("AXES")]
    assert line.startswith("CommandError: ") and says in line


def test_commands_say_each_thing_once_and_the_fleet_says_where_it_serves() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": "sqlite:///:memory:",
    }
    checked = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "AXES" not in checked.stdout + checked.stderr  # no banner from every process
    fleet = subprocess.Popen(
        [sys.executable, "manage.py", "serve_demo_agents", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert fleet.stdout is not None
        assert fleet.stdout.readline().startswith("Demo agents on http://127.0.0.1:")  # to a pipe, at once
    finally:
        fleet.terminate()
        fleet.wait(timeout=10)


def test_moved_models_take_their_content_types_and_so_staff_permissions_along(db: None) -> None:
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    from config.moved_models import content_types_follow

    # As a database from before the move holds it: the model's content type under its old app.
    ContentType.objects.filter(app_label="credentials", model="credentialchange").update(app_label="crawler")
    granted = Permission.objects.get(content_type__app_label="crawler", codename="view_credentialchange")
    move = content_types_follow(["credentialchange"], "crawler", "credentials")
    apps = MigrationLoader(connection).project_state().apps  # as a migration sees them
    with connection.schema_editor() as editor:
        move.code(apps, editor)
        granted.refresh_from_db()
        assert (granted.content_type.app_label, granted.codename) == ("credentials", "view_credentialchange")
        assert move.reverse_code is not None
        move.reverse_code(apps, editor)
    assert ContentType.objects.filter(app_label="crawler", model="credentialchange").exists()
    ContentType.objects.clear_cache()


def test_the_api_schema_is_generated_without_a_warning(db: None, tmp_path: Path) -> None:
    from django.core.management import call_command

    # --fail-on-warn: an untyped view, a guessed serializer or an enum named twice fails here.
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    import yaml

    schema = yaml.safe_load((tmp_path / "schema.yaml").read_text())
    assert "/api/me/member-profile/domains/{domain}/verify" in schema["paths"]
    assert {"AgentTypeEnum", "NoticeKindEnum", "FeedKindEnum", "ProbeErrorKindEnum"} <= set(
        schema["components"]["schemas"]
    )
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            success = [status for status in answers if status.startswith("2")]
            assert success, (method, path)
            # Every answer with a body says its schema; every operation its errors, in the one shape.
            for status in success:
                if status != "204":
                    assert "schema" in answers[status]["content"]["application/json"], (method, path, status)
            for status in ("400", "404"):
                error = answers[status]["content"]["application/json"]
                assert error["schema"] == {"$ref": "#/components/schemas/Error"} and "example" in error
