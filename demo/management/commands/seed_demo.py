from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from demo.agents import DEFAULT_FLEET_URL, DEMO_AGENTS, DEMO_MAILBOX, DEMO_MAILBOX_OWNER
from members.domains import claim
from members.models import MemberAgent, MemberProfile
from members.registration import Registration, register_agents
from registry.canonical import canonicalize_agent_url


class Command(BaseCommand):
    help = (
        "Create the demo registry (member profiles and their agents, pointing at the demo fleet). "
        "Idempotent: existing rows are left as they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fleet-url",
            default=DEFAULT_FLEET_URL,
            help=f"Base URL of the demo agent fleet (default {DEFAULT_FLEET_URL}).",
        )

    def handle(self, *args: Any, fleet_url: str, **options: Any) -> None:
        try:
            base = canonicalize_agent_url(fleet_url)
        except Exception as exc:
            raise CommandError(f"--fleet-url: {exc}") from exc
        urls = {demo: canonicalize_agent_url(demo.url(base)) for demo in DEMO_AGENTS}
        registered = set(MemberAgent.objects.filter(agent__url__in=urls.values()).values_list("agent__url", flat=True))
        created_profiles = created_agents = 0
        with transaction.atomic():
            # One owner for every demo profile, with an address: the demo's emails print on bin/run's console.
            owner, _ = User.objects.get_or_create(username=DEMO_MAILBOX_OWNER, defaults={"email": DEMO_MAILBOX})
            for demo in DEMO_AGENTS:
                profile, created = MemberProfile.objects.get_or_create(
                    slug=demo.member, defaults={"display_name": demo.member_name}
                )
                profile.owners.add(owner)
                created_profiles += created
                if demo.verified_domain:
                    claim(profile, demo.verified_domain)  # proved once the fleet serves its file
                url = urls[demo]
                if url in registered:
                    continue
                register_agents(
                    profile,
                    [Registration(url, demo.declared_type, demo.display_name, demo.protocol)],
                    actor="seed_demo",
                )
                created_agents += 1
                if options["verbosity"] >= 2:
                    self.stdout.write(f"  {profile.slug}  {url}  declared {demo.declared_type}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo registry ready: {created_profiles} profiles and {created_agents} agents created "
                f"({len(DEMO_AGENTS) - created_agents} already present)."
            )
        )
