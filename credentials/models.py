from __future__ import annotations

from collections.abc import Iterable

from django.db import models, transaction
from django.utils import timezone

from audit.models import AppendOnlyModel, AppendOnlyQuerySet
from credentials.sealing import seal
from credentials.signals import credential_saved
from probe import Credential, CredentialScheme
from registry.models import Agent


class AgentCredential(models.Model):
    """What an agent's owner saved for probes to sign in with, sealed (credentials.sealing).

    The secret is never stored, shown or logged in clear: ``sealed`` is a Fernet
    token of the scheme's fields, readable only with AGENT_CREDENTIAL_KEYS.
    """

    agent = models.OneToOneField("registry.Agent", on_delete=models.CASCADE, related_name="credential")
    scheme = models.CharField(max_length=32, choices=CredentialScheme.choices)
    sealed = models.TextField()
    set_by = models.CharField(max_length=150)
    set_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    # The probe's result the last time the credential was sent: "ok" or an error kind.
    last_result = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        db_table = "crawler_agentcredential"

    def __str__(self) -> str:
        return f"{self.get_scheme_display()} for agent {self.agent_id}"

    @classmethod
    def save_for(cls, agent: Agent, credential: Credential, *, actor: str, probe: bool = True) -> str:
        """Seal and save an agent's credential, record who set or replaced it, and (``probe``)
        ask for a probe with it; returns what became of that request, in words."""
        with transaction.atomic():
            existing = cls.objects.select_for_update().filter(agent=agent).exists()
            cls.objects.update_or_create(
                agent=agent,
                defaults={
                    "scheme": credential.scheme,
                    "sealed": seal(credential),
                    "set_by": actor,
                    "set_at": timezone.now(),
                    "last_used_at": None,
                    "last_result": "",
                },
            )
            action = CredentialChange.Action.REPLACE if existing else CredentialChange.Action.SET
            CredentialChange.objects.create(agent_url=agent.url, action=action, scheme=credential.scheme, actor=actor)
            answers = credential_saved.send(sender=cls, agent_id=agent.pk) if probe else []
        return "; ".join(str(answer) for _, answer in answers) or "not-enqueued"

    @classmethod
    def remove(cls, agents: Iterable[Agent] | models.QuerySet[Agent], *, actor: str) -> int:
        """Remove these agents' credentials, each removal recorded; returns how many were removed."""
        with transaction.atomic():
            removed = list(cls.objects.select_for_update().filter(agent__in=agents).select_related("agent"))
            CredentialChange.objects.bulk_create(
                CredentialChange(
                    agent_url=credential.agent.url,
                    action=CredentialChange.Action.REMOVE,
                    scheme=credential.scheme,
                    actor=actor,
                )
                for credential in removed
            )
            cls.objects.filter(pk__in=[c.pk for c in removed]).delete()
        return len(removed)


class CredentialChange(AppendOnlyModel):
    """Who set, replaced or removed an agent's credentials, and when (never the secret)."""

    class Action(models.TextChoices):
        SET = "set", "Set"
        REPLACE = "replace", "Replaced"
        REMOVE = "remove", "Removed"

    agent_url = models.CharField(max_length=2048, db_index=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    scheme = models.CharField(max_length=32, choices=CredentialScheme.choices)
    actor = models.CharField(max_length=150)
    changed_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        db_table = "crawler_credentialchange"
        ordering = ["-changed_at", "-id"]
        verbose_name = "credential change"

    def __str__(self) -> str:
        return f"{self.agent_url}: credentials {self.get_action_display().lower()} by {self.actor}"
