"""One endpoint, one agent: fold agents whose query strings the wire sends alike
(``?x=%E2%80%A8`` and ``?x=\u2028``), now spelled as it sends them. See members/url_fold.py."""

from django.db import migrations

from members.url_fold import fold_duplicate_agents


def fold(apps, schema_editor):
    fold_duplicate_agents(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_notifications_move_to_their_app"),
        ("registry", "0011_disagreements_recorded_within_a_window"),
    ]

    # Folding cannot be undone: the duplicates are gone, their history stays in the audit table.
    operations = [migrations.RunPython(fold, migrations.RunPython.noop)]
