from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from members.models import MemberAgent


@receiver(post_save, sender=MemberAgent)
def resolve_loaded_fixture(sender: type[MemberAgent], instance: MemberAgent, raw: bool, **kwargs: Any) -> None:
    """``loaddata`` saves rows raw, past ``MemberAgent.save()``; resolve those too."""
    if raw:
        from members.registration import lock_agents, publish_resolved_type

        with transaction.atomic():
            lock_agents([instance.agent_id])
            publish_resolved_type(instance, actor="loaddata")
