"""The notification models now belong to ``notifications`` (its 0001 takes over the tables)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0006_notifications"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Delivery"),
                migrations.DeleteModel(name="WebhookEndpoint"),
                migrations.DeleteModel(name="NotificationSettings"),
            ],
            database_operations=[],
        ),
    ]
