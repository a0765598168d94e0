"""What the member API tells a member about each agent: derived from the rule that decided."""

import pytest
from django.utils import timezone

from members.api import explain, profile_document
from members.resolve import Rule
from registry.models import Agent, CapabilitySnapshot
from registry.review import keep_published, review_plan
from tests.factories import make_agent, make_profile, make_snapshot, register

SALES_TOOLS = ["get_products", "create_media_buy"]


# fmt: off -- one case a line reads as the table it is
@pytest.mark.parametrize(
    "rule, declared, published, resolved, inferred, message",
    [
        (
            Rule.DECLARED,
            "sales",
            "sales",
            "sales",
            None,
            "The registry lists sales as you declared; the agent has not answered a probe yet.",
        ),
        (
            Rule.INFERRED,
            "sales",
            "sales",
            "sales",
            "sales",
            "The registry lists sales: the agent exposes get_products, create_media_buy.",
        ),
        (
            Rule.INFERRED,
            "buying",
            "sales",
            "sales",
            "sales",
            "You said buying; the registry lists sales because the agent exposes get_products, create_media_buy.",
        ),
        (
            Rule.INFERRED,
            "buying",
            "buying",
            "sales",
            "sales",
            "You said buying and the registry lists buying, but the agent exposes get_products, create_media_buy "
            "(sales tools); a reviewer will reconcile the two.",
        ),
        (
            Rule.REVIEW_KEPT,
            "buying",
            "buying",
            "buying",
            "sales",
            "You said buying; the agent exposes get_products, create_media_buy (sales tools), but a reviewer looked "
            "at both and kept buying.",
        ),
        (
            Rule.BUYING_UNSEEN,
            "buying",
            "buying",
            "buying",
            None,
            "The registry lists buying as you declared: a buying agent exposes no AdCP tools for a probe to see.",
        ),
        (
            Rule.UNCONFIRMED,
            "sales",
            "unknown",
            "unknown",
            None,
            "You said sales; the registry lists it as unclassified because the probe found no AdCP tool that "
            "confirms it.",
        ),
        (
            Rule.UNCONFIRMED,
            "sales",
            "sales",
            "unknown",
            None,
            "The registry lists sales; the rules now give unknown (the probe answered and confirmed nothing), which "
            "the next change to this registration or the next backfill will publish.",
        ),
    ],
)
# fmt: on
def test_every_explanation(
    rule: Rule, declared: str, published: str, resolved: str, inferred: str | None, message: str
) -> None:
    tools = SALES_TOOLS if inferred else []
    assert (
        explain(rule=rule, declared=declared, published=published, resolved=resolved, inferred=inferred, tools=tools)
        == message
    )


def _explanation(agent: Agent) -> str:
    [document] = [a for a in profile_document(agent.registration.profile)["agents"] if a["url"] == agent.url]
    return str(document["explanation"])


def test_an_agent_whose_probes_all_failed_is_published_as_declared(db: None) -> None:
    agent = make_agent()
    CapabilitySnapshot.objects.create(agent=agent, error_kind="timeout", last_attempt_at=timezone.now())
    register(make_profile("quiet"), agent, "sales")
    assert agent.type == "sales"
    assert _explanation(agent) == "The registry lists sales as you declared; the agent has not answered a probe yet."


def test_after_a_reviewer_keeps_the_type_the_member_is_told_so(db: None) -> None:
    agent = make_agent()
    register(make_profile("swivel"), agent, "buying")
    make_snapshot(agent, "sales", SALES_TOOLS)
    assert "a reviewer will reconcile the two" in _explanation(agent)
    keep_published(review_plan([agent.pk]), actor="rita")
    assert _explanation(agent).endswith("but a reviewer looked at both and kept buying.")
