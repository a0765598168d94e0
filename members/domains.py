"""Domains members prove they own, and which of their agents those domains cover.

A profile claims a domain and gets a token; it proves the claim with a TXT record
at ``_adcp-registry.<domain>`` or a well-known file (probe.proof). An agent is
``host_verified`` when its host is, or is under, a domain its own profile has
verified: ``MemberAgent.verified_domain`` keeps that, written here whenever a
verification or a registration changes. The scheduler checks verified domains
daily; a domain whose every check has failed for ``PROOF_GRACE`` loses its
verification. Every verification and loss is a ``DomainEvent`` (append-only) and
a notice per covered agent in the outbox, in the same transaction.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

import idna
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from publicsuffixlist import PublicSuffixList

from audit.models import Notice, NoticeKind, write_notices
from members.models import DomainClaim, DomainEvent, DomainEventKind, MemberAgent, MemberProfile, covering, host_of
from probe.limits import ProbeLimits
from probe.proof import WELL_KNOWN_PATH, ProofOutcome, check_domain, txt_name, txt_value
from probe.vocabulary import ProofMethod

PROOF_GRACE = timedelta(hours=72)
# Checked again once a day; a little less, so a daily job never skips a day.
RECHECK_AFTER = timedelta(hours=20)
# The list bundled with the package (publicsuffixlist), private section included
# (github.io, ...): never fetched at run time.
_SUFFIXES = PublicSuffixList()


def claimable(value: str) -> str:
    """The domain as stored (lower case, A-labels, no trailing dot), or why it cannot be claimed."""
    text = (value or "").strip().rstrip(".").lower()
    if not text or len(text) > 253:
        raise ValidationError("Give a domain name, such as acme.example.", code="invalid_domain")
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValidationError(f"{text} is an IP address: claim a domain name.", code="ip_address")
    try:
        domain = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise ValidationError(f"{text} is not a valid domain name.", code="invalid_domain") from None
    if "." not in domain or _SUFFIXES.is_public(domain):
        raise ValidationError(
            f"{domain} is a public suffix (such as com, co.uk or github.io), which no one member owns: "
            "claim your own domain under it.",
            code="public_suffix",
        )
    return domain


def registrable_domain(host: str) -> str:
    """The domain a member would claim for this host (acme.example for agents.acme.example)."""
    return _SUFFIXES.privatesuffix(host) or host


def well_known_url(domain: str) -> str:
    """HTTPS in production; plain HTTP on a set port only where loopback probes are allowed (tests, the demo)."""
    port = settings.DOMAIN_PROOF_HTTP_PORT
    if settings.AGENT_PROBE_ALLOW_PRIVATE and port:
        return f"http://{domain}:{port}{WELL_KNOWN_PATH}"
    return f"https://{domain}{WELL_KNOWN_PATH}"


def instructions(claim: DomainClaim) -> dict[str, object]:
    """What the owner publishes to prove the claim, either way."""
    return {
        "dns": {"name": txt_name(claim.domain), "type": "TXT", "value": txt_value(claim.token)},
        "http": {"url": well_known_url(claim.domain), "body": claim.token},
    }


def claim(profile: MemberProfile, value: str) -> tuple[DomainClaim, bool]:
    """The profile's claim on the domain, made if new (with a fresh token)."""
    domain = claimable(value)
    return DomainClaim.objects.get_or_create(
        profile=profile, domain=domain, defaults={"token": secrets.token_urlsafe(24)}
    )


def remove(claim: DomainClaim) -> None:
    """Drop a claim; agents it covered are no longer verified through it."""
    with transaction.atomic():
        locked = _locked([claim.pk]).get()
        if locked.verified:
            _record(locked, DomainEventKind.LOST, proof=ProofMethod(locked.verified_by), note="claim removed")
        locked.delete()
        refresh_coverage([claim.profile_id])


def verify(claim: DomainClaim, *, limits: ProbeLimits | None = None) -> DomainClaim:
    """Check the proofs now and record what they show (a loss only after PROOF_GRACE of failures)."""
    outcome = check_domain(
        claim.domain, claim.token, well_known_url(claim.domain), limits or ProbeLimits.from_settings()
    )
    return _apply(claim, outcome)


def _apply(claim: DomainClaim, outcome: ProofOutcome) -> DomainClaim:
    now = timezone.now()
    with transaction.atomic():
        locked = _locked([claim.pk]).get()
        locked.last_checked_at = now
        if outcome.method is not None:
            locked.last_error, locked.failing_since = "", None
            if not locked.verified:
                _change_standing(locked, DomainEventKind.VERIFIED, outcome.method, now=now)
        else:
            locked.last_error = outcome.error
            if locked.verified and locked.verified_by != ProofMethod.STAFF:
                locked.failing_since = locked.failing_since or now
                if now - locked.failing_since >= PROOF_GRACE:
                    lost = ProofMethod(locked.verified_by)
                    _change_standing(locked, DomainEventKind.LOST, lost, now=now, note=outcome.error)
        locked.save()
        refresh_coverage([locked.profile_id])
    return locked


def _locked(pks: list[int]) -> QuerySet[DomainClaim]:
    return DomainClaim.objects.select_for_update(of=("self",)).select_related("profile").filter(pk__in=pks)


def _change_standing(
    claim: DomainClaim, kind: DomainEventKind, proof: ProofMethod, *, now: datetime, actor: str = "", note: str = ""
) -> None:
    """Verify the claim (VERIFIED) or withdraw its verification (LOST, REVOKED), and record
    the event; the caller saves the locked claim and refreshes coverage."""
    verified = kind == DomainEventKind.VERIFIED
    claim.verified_at, claim.verified_by = (now, proof) if verified else (None, "")
    by_hand = verified and proof == ProofMethod.STAFF
    claim.verified_actor, claim.verified_note = (actor, note) if by_hand else ("", "")
    claim.failing_since = None
    _record(claim, kind, proof=proof, actor=actor, note=note)


def verify_by_staff(claims: Iterable[DomainClaim], *, actor: str, note: str) -> int:
    """Staff vouch for these domains by hand; each is recorded with them as actor."""
    return _decide_by_staff(claims, verified=True, actor=actor, note=note)


def revoke(claims: Iterable[DomainClaim], *, actor: str, note: str) -> int:
    """Staff withdraw these verifications, whatever proved them."""
    return _decide_by_staff(claims, verified=False, actor=actor, note=note)


def _decide_by_staff(claims: Iterable[DomainClaim], *, verified: bool, actor: str, note: str) -> int:
    now = timezone.now()
    done = 0
    pks = [c.pk for c in claims]
    with transaction.atomic():
        for locked in _locked(pks):
            if locked.verified == verified:
                continue
            if verified:
                _change_standing(locked, DomainEventKind.VERIFIED, ProofMethod.STAFF, now=now, actor=actor, note=note)
            else:
                proof = ProofMethod(locked.verified_by)
                _change_standing(locked, DomainEventKind.REVOKED, proof, now=now, actor=actor, note=note)
            locked.save()
            done += 1
        refresh_coverage(DomainClaim.objects.filter(pk__in=pks).values_list("profile_id", flat=True))
    return done


def due_for_recheck() -> QuerySet[DomainClaim]:
    """Domains proved by DNS or a file and not checked lately (staff verifications stand as they are)."""
    return DomainClaim.objects.filter(
        verified_at__isnull=False, last_checked_at__lt=timezone.now() - RECHECK_AFTER
    ).exclude(verified_by=ProofMethod.STAFF)


def recheck(claims: QuerySet[DomainClaim], *, limits: ProbeLimits | None = None) -> Counter[str]:
    """Check these claims one by one; how many became verified, stayed so, were lost or stay unverified."""
    tally: Counter[str] = Counter()
    for pending in claims.order_by("pk").iterator():
        was, now = pending.verified, verify(pending, limits=limits).verified
        if now:
            tally["still verified" if was else "newly verified"] += 1
        else:
            tally["lost" if was else "unverified"] += 1
    return tally


def recheck_verified(*, limits: ProbeLimits | None = None) -> int:
    """The scheduler's daily pass over the verified domains."""
    return sum(recheck(due_for_recheck(), limits=limits).values())


def _record(claim: DomainClaim, kind: DomainEventKind, *, proof: ProofMethod, actor: str = "", note: str = "") -> None:
    """The domain's history row, in the caller's transaction (refresh_coverage writes the agents' notices)."""
    DomainEvent.objects.create(
        profile_slug=claim.profile.slug,
        domain=claim.domain,
        kind=kind,
        proof=proof,
        actor=actor,
        note=note[:2000],
        at=timezone.now(),
    )


def refresh_coverage(profile_ids: Iterable[int]) -> None:
    """Set each registration's covering verified domain; a notice for each agent whose standing changed."""
    ids = list(set(profile_ids))
    verified: dict[int, list[str]] = {}
    for profile_id, domain in DomainClaim.objects.filter(profile_id__in=ids, verified_at__isnull=False).values_list(
        "profile_id", "domain"
    ):
        verified.setdefault(profile_id, []).append(domain)
    changed: list[MemberAgent] = []
    notices: list[Notice] = []
    for registration in MemberAgent.objects.filter(profile_id__in=ids).select_related("agent", "profile"):
        domain = covering(verified.get(registration.profile_id, []), host_of(registration.agent.url))
        if domain == registration.verified_domain:
            continue
        before = registration.verified_domain
        registration.verified_domain = domain
        changed.append(registration)
        notices.append(
            Notice(
                kind=NoticeKind.HOST_VERIFIED if domain else NoticeKind.HOST_UNVERIFIED,
                agent_url=registration.agent.url,
                member=registration.profile.slug,
                payload={"domain": domain or before},
            )
        )
    MemberAgent.objects.bulk_update_resolved(changed, ["verified_domain"])
    write_notices(notices)


def unverified_hosts(profile: MemberProfile, urls: Iterable[str]) -> list[str]:
    """Hosts of these URLs that no verified domain of the profile covers (the enforcement's refusal)."""
    domains = profile.verified_domains()
    return sorted({host for url in urls if not covering(domains, host := host_of(url))})


def what_to_do(host: str) -> str:
    return (
        f"Claim {registrable_domain(host)} (POST /api/me/member-profile/domains) and publish its TXT record "
        "or well-known file, then verify it."
    )
