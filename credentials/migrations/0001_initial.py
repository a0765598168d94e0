"""The credential models move here from ``crawler``: same tables, same rows.

Only Django's state moves (``SeparateDatabaseAndState``); the content types follow,
so permissions staff were given on these models keep working.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from config.moved_models import content_types_follow

SCHEMES = [
    ("bearer", "Bearer token"),
    ("header", "Custom header"),
    ("oauth_client_credentials", "OAuth client credentials"),
]
MOVED = ["agentcredential", "credentialchange"]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("crawler", "0005_job_queue_permission"),
        ("registry", "0009_unregistered_and_host_quotas"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AgentCredential",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("scheme", models.CharField(choices=SCHEMES, max_length=32)),
                        ("sealed", models.TextField()),
                        ("set_by", models.CharField(max_length=150)),
                        ("set_at", models.DateTimeField()),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("last_result", models.CharField(blank=True, default="", max_length=32)),
                        (
                            "agent",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="credential",
                                to="registry.agent",
                            ),
                        ),
                    ],
                    options={"db_table": "crawler_agentcredential"},
                ),
                migrations.CreateModel(
                    name="CredentialChange",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("agent_url", models.CharField(db_index=True, max_length=2048)),
                        (
                            "action",
                            models.CharField(
                                choices=[("set", "Set"), ("replace", "Replaced"), ("remove", "Removed")], max_length=16
                            ),
                        ),
                        ("scheme", models.CharField(choices=SCHEMES, max_length=32)),
                        ("actor", models.CharField(max_length=150)),
                        ("changed_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        "db_table": "crawler_credentialchange",
                        "verbose_name": "credential change",
                        "ordering": ["-changed_at", "-id"],
                    },
                ),
            ],
            database_operations=[],
        ),
        content_types_follow(MOVED, "crawler", "credentials"),
    ]
