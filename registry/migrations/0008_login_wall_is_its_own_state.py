from django.db import migrations, models


def rename_error_kind(apps, schema_editor):
    Snapshot = apps.get_model("registry", "CapabilitySnapshot")
    Snapshot.objects.filter(error_kind="oauth_required").update(error_kind="auth_required")


def restore_error_kind(apps, schema_editor):
    Snapshot = apps.get_model("registry", "CapabilitySnapshot")
    Snapshot.objects.filter(error_kind__in=["auth_required", "auth_failed"]).update(error_kind="oauth_required")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0007_adcp3_types_declarations_and_routes"),
    ]

    operations = [
        migrations.RenameField("capabilitysnapshot", "oauth_required", "auth_required"),
        migrations.RunPython(rename_error_kind, restore_error_kind),
        migrations.AlterField(
            model_name='capabilitysnapshot',
            name='auth_required',
            field=models.BooleanField(db_index=True, default=False),
        ),
        migrations.AlterField(
            model_name='capabilitysnapshot',
            name='error_kind',
            field=models.CharField(blank=True, choices=[('timeout', 'Timed out'), ('dns', 'Name does not resolve'), ('connect', 'Connection failed'), ('http_status', 'HTTP error status'), ('auth_required', 'Needs credentials'), ('auth_failed', 'Credentials rejected'), ('protocol', 'Not a valid MCP/A2A reply'), ('too_large', 'Response too large'), ('blocked', 'Address not allowed')], default='', max_length=32),
        ),
    ]
