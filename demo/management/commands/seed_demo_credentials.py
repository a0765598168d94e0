from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from credentials.models import AgentCredential
from demo.agents import DEFAULT_FLEET_URL, DEMO_BEARER_TOKEN, DEMO_OWNER
from members.models import MemberProfile
from probe import Credential, CredentialScheme
from registry.canonical import canonicalize_agent_url
from registry.models import Agent


class Command(BaseCommand):
    help = (
        "Save the demo owner's bearer token for the demo agent behind a login (run after seed_demo), "
        "as an owner would through the credentials API. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fleet-url", default=DEFAULT_FLEET_URL)

    def handle(self, *args: Any, fleet_url: str, **options: Any) -> None:
        url = canonicalize_agent_url(fleet_url.rstrip("/") + "/vault/mcp")
        agent = Agent.objects.filter(url=url).first()
        if agent is None:
            raise CommandError(f"No demo agent at {url}: run seed_demo --fleet-url {fleet_url} first.")
        owner, _ = User.objects.get_or_create(username=DEMO_OWNER)
        MemberProfile.objects.get(slug="vault").owners.add(owner)
        if hasattr(agent, "credential"):
            self.stdout.write(f"The demo credential for {url} is already saved.")
            return
        token = Credential(CredentialScheme.BEARER, {"token": DEMO_BEARER_TOKEN})
        # The fleet may not be serving yet: the demo's first crawl probes with it.
        AgentCredential.save_for(agent, token, actor=DEMO_OWNER, probe=False)
        self.stdout.write(f"Saved the demo owner's bearer token for {url}.")
