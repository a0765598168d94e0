"""Used by the audit app's migrations: history cannot be migrated away."""

from typing import Any


def refuse_backwards(apps: Any, schema_editor: Any) -> None:
    raise RuntimeError(
        "The audit table's append-only guards cannot be migrated away: that would let history be erased. "
        "Restore a backup instead of migrating audit backwards."
    )
