"""The credential models now belong to ``credentials`` (its 0001 takes over the tables)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crawler", "0005_job_queue_permission"),
        ("credentials", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AgentCredential"),
                migrations.DeleteModel(name="CredentialChange"),
            ],
            database_operations=[],
        ),
    ]
