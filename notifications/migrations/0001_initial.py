"""The notification models move here from ``members``: same tables, same rows.

Only Django's state moves (``SeparateDatabaseAndState``); the content types follow,
so permissions staff were given on these models keep working.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from config.moved_models import content_types_follow

import notifications.models

MOVED = ["notificationsettings", "webhookendpoint", "delivery"]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("audit", "0005_outbox"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("members", "0006_notifications"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="NotificationSettings",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("email_kinds", models.JSONField(blank=True, default=notifications.models.default_email_kinds)),
                        (
                            "email_mode",
                            models.CharField(
                                choices=[("each_event", "One message per event"), ("daily_digest", "A daily digest")],
                                default="each_event",
                                max_length=16,
                            ),
                        ),
                        (
                            "profile",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notification_settings",
                                to="members.memberprofile",
                            ),
                        ),
                    ],
                    options={"db_table": "members_notificationsettings", "verbose_name_plural": "notification settings"},
                ),
                migrations.CreateModel(
                    name="WebhookEndpoint",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("url", models.CharField(max_length=2048)),
                        ("secret", models.CharField(editable=False, max_length=64)),
                        ("kinds", models.JSONField(blank=True, default=notifications.models.all_kinds)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "profile",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="webhooks",
                                to="members.memberprofile",
                            ),
                        ),
                    ],
                    options={"db_table": "members_webhookendpoint", "ordering": ["profile__slug", "url"]},
                ),
                migrations.CreateModel(
                    name="Delivery",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("channel", models.CharField(choices=[("email", "Email"), ("webhook", "Webhook")], max_length=16)),
                        ("email", models.EmailField(blank=True, max_length=254)),
                        (
                            "status",
                            models.CharField(
                                choices=[("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
                                db_index=True,
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("next_attempt_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("last_status_code", models.PositiveIntegerField(blank=True, null=True)),
                        ("last_error", models.CharField(blank=True, max_length=300)),
                        ("latency_ms", models.PositiveIntegerField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "notice",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT, related_name="deliveries", to="audit.notice"
                            ),
                        ),
                        (
                            "webhook",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="deliveries",
                                to="notifications.webhookendpoint",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "members_delivery",
                        "verbose_name_plural": "deliveries",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
            ],
            database_operations=[],
        ),
        content_types_follow(MOVED, "members", "notifications"),
    ]
