"""Who may act on an agent through the API: its owners and staff, without revealing the rest."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound, ParseError, PermissionDenied
from rest_framework.request import Request

from registry.canonical import canonicalize_agent_url
from registry.models import Agent

NOT_VISIBLE = "No agent you can see is registered at this URL."


# What staff need to act on any agent through the API: the admin asks the same
# for its "Probe now" and "Clear saved credentials".
STAFF_PERMISSION = "registry.change_agent"


def agent_for_owner(request: Request, raw_url: str, *, refused: str) -> Agent:
    """The agent at this URL if the caller owns it, or is staff with STAFF_PERMISSION.

    An agent the caller cannot see (not registered, or registered by a private
    profile they do not own) is a 404, so the API does not reveal which URLs are
    registered; a public agent they do not own is a 403 with ``refused``. Staff
    without the permission are treated as any other member.
    """
    try:
        url = canonicalize_agent_url(raw_url)
    except ValidationError as exc:
        raise ParseError(f"Not an agent URL: {exc.messages[0]}") from None
    agent = Agent.objects.select_related("registration__profile").filter(url=url).first()
    if agent is None:
        raise NotFound(NOT_VISIBLE)
    if request.user.is_staff and request.user.has_perm(STAFF_PERMISSION):
        return agent
    registration = getattr(agent, "registration", None)
    if registration is None:
        raise NotFound(NOT_VISIBLE)
    if registration.profile.owners.filter(pk=request.user.pk).exists():
        return agent
    if registration.profile.is_public:
        raise PermissionDenied(refused)
    raise NotFound(NOT_VISIBLE)
