"""What a probe is given: the agent, the route it answered on last time, what its owner saved."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models


class CredentialScheme(models.TextChoices):
    BEARER = "bearer", "Bearer token"
    HEADER = "header", "Custom header"
    OAUTH_CLIENT_CREDENTIALS = "oauth_client_credentials", "OAuth client credentials"


@dataclass(frozen=True)
class Credential:
    """Secret material for one agent's probes. Its repr never shows a secret."""

    scheme: str
    fields: dict[str, str] = field(repr=False)

    def __repr__(self) -> str:
        return f"Credential(scheme={self.scheme!r}, fields=<{len(self.fields)} hidden>)"

    @property
    def secrets(self) -> list[str]:
        """The values that must never appear in a message or a log."""
        return [v for k, v in self.fields.items() if k in ("token", "value", "client_secret") and v]


@dataclass(frozen=True)
class Route:
    """How an agent answered: the next probe goes straight there."""

    transport: str
    protocol_version: str
    endpoint: str


@dataclass(frozen=True)
class ProbeTarget:
    """One agent to probe, with what the last probe learnt and what its owner saved."""

    url: str
    protocol: str
    route: Route | None = None  # the route it answered on last time: tried first
    credential: Credential | None = None  # sent only to the agent's own origin

    @classmethod
    def of(cls, target: ProbeTarget | tuple[str, str]) -> ProbeTarget:
        return target if isinstance(target, ProbeTarget) else cls(*target)
