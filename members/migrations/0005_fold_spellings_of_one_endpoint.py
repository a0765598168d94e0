"""One endpoint, one agent: fold agents whose URLs wire-level canonicalisation
(dot segments, percent-escapes, path parameters) now spells the same.
See members/url_fold.py."""

from django.db import migrations

from members.url_fold import fold_duplicate_agents


def fold(apps, schema_editor):
    fold_duplicate_agents(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0004_unregistered_and_host_quotas"),
        ("registry", "0009_unregistered_and_host_quotas"),
        ("audit", "0004_url_merge_source"),
        ("crawler", "0005_job_queue_permission"),
    ]

    # Folding cannot be undone: the duplicates are gone, their history stays in the audit table.
    operations = [migrations.RunPython(fold, migrations.RunPython.noop)]
