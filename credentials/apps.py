from typing import Any

from django.apps import AppConfig
from django.core import checks


class CredentialsConfig(AppConfig):
    name = "credentials"
    verbose_name = "Agent credentials"

    def ready(self) -> None:
        from members.signals import agents_unregistered

        checks.register(credential_keys_check, checks.Tags.security)
        agents_unregistered.connect(remove_on_unregistering, dispatch_uid="credentials.remove_on_unregistering")


def remove_on_unregistering(agent_ids: list[int], actor: str, **kwargs: Any) -> None:
    """Whoever registers the URL next must not be sent the previous owner's secret."""
    from credentials.models import AgentCredential
    from registry.models import Agent

    AgentCredential.remove(Agent.objects.filter(pk__in=agent_ids), actor=actor or "unregistering")


def credential_keys_check(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """Owners' credentials cannot be sealed without a key; production must set one."""
    from django.conf import settings

    if settings.DEBUG or any(k.strip() for k in settings.AGENT_CREDENTIAL_KEYS):
        return []
    return [
        checks.Error(
            "AGENT_CREDENTIAL_KEYS is not set.",
            hint="Generate one: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'",
            id="credentials.E001",
        )
    ]
