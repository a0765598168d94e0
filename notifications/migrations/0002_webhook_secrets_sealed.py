"""Webhook signing secrets are sealed at rest, like owners' credentials."""

from django.db import migrations, models


def seal_secrets(apps, schema_editor):
    from config import sealing

    endpoints = apps.get_model("notifications", "WebhookEndpoint")
    for endpoint in endpoints.objects.all():
        endpoint.sealed_secret = sealing.seal(endpoint.secret.encode())
        endpoint.save(update_fields=["sealed_secret"])


def unseal_secrets(apps, schema_editor):
    from config import sealing

    endpoints = apps.get_model("notifications", "WebhookEndpoint")
    for endpoint in endpoints.objects.all():
        endpoint.secret = sealing.unseal(endpoint.sealed_secret).decode()
        endpoint.save(update_fields=["secret"])


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookendpoint",
            name="sealed_secret",
            field=models.TextField(default="", editable=False),
            preserve_default=False,
        ),
        migrations.RunPython(seal_secrets, unseal_secrets),
        migrations.RemoveField(model_name="webhookendpoint", name="secret"),
    ]
