from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

from members.models import MemberAgent

# Sent inside the unregistering transaction with ``agent_ids`` and ``actor``: what was
# tied to the registration (an owner's saved credentials) goes with it.
agents_unregistered = Signal()


@receiver(post_save, sender=MemberAgent)
def resolve_loaded_fixture(sender: type[MemberAgent], instance: MemberAgent, raw: bool, **kwargs: Any) -> None:
    """``loaddata`` saves rows raw, past ``MemberAgent.save()``; resolve those too."""
    if raw:
        with transaction.atomic():
            instance.lock_agent()
            instance.publish_resolved_type(actor="loaddata")
