from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

from audit.models import Notice, notices_writing
from members.models import MemberAgent, MemberProfile

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


@receiver(notices_writing, sender=Notice)
def list_public_notices(sender: type[Notice], notices: list[Notice], **kwargs: Any) -> None:
    """A notice is listed in the public change feed when its member's profile is public as it is written."""
    undecided = [notice for notice in notices if notice.listed is None]
    members = {notice.member for notice in undecided if notice.member}
    public = (
        set(MemberProfile.objects.filter(slug__in=members, is_public=True).values_list("slug", flat=True))
        if members
        else set()
    )
    for notice in undecided:
        notice.listed = notice.member in public
