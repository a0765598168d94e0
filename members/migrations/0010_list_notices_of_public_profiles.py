from typing import Any

from django.db import migrations


def list_public(apps: Any, schema_editor: Any) -> None:
    """Notices written before the change feed: listed when their member's profile is public now."""
    notice = apps.get_model("audit", "Notice")
    profile = apps.get_model("members", "MemberProfile")
    public = profile.objects.filter(is_public=True).values("slug")
    notice.objects.filter(listed__isnull=True, member__in=public).update(listed=True)
    notice.objects.filter(listed__isnull=True).update(listed=False)


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0009_domain_claims"),
        ("audit", "0008_change_feed"),
    ]

    operations = [migrations.RunPython(list_public, migrations.RunPython.noop)]
