"""For migrations that move models between apps (``SeparateDatabaseAndState``): the
models' content types follow, so permissions staff were given on them keep working."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def content_types_follow(models: list[str], old_app: str, new_app: str) -> migrations.RunPython:
    def relabel(source: str, target: str) -> Any:
        def run(apps: Any, schema_editor: Any) -> None:
            content_types = apps.get_model("contenttypes", "ContentType")
            content_types.objects.filter(app_label=source, model__in=models).update(app_label=target)

        return run

    return migrations.RunPython(relabel(old_app, new_app), relabel(new_app, old_app))
