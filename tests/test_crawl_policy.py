"""The type-update policy: what a probe result does to the registry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import Notice, TypeReclassification
from crawler.policy import BACKOFF_DAYS, DISAGREEMENT_WINDOW, TERMINAL_AFTER_ATTEMPTS, apply_probe_results
from probe import ProbeResult
from registry.models import Agent, CapabilitySnapshot
from tests.factories import make_agent, make_profile, make_snapshot, register


def answered(agent: Agent, *tools: str) -> ProbeResult:
    return ProbeResult(url=agent.url, protocol="mcp", tool_names=list(tools), tools=[{"name": t} for t in tools])


def failed(agent: Agent, kind: str = "timeout") -> ProbeResult:
    return ProbeResult(url=agent.url, protocol="mcp", error_kind=kind, error_message=f"{kind} happened")


def apply(agent: Agent, result: ProbeResult, **kwargs: object) -> str:
    [outcome] = apply_probe_results([(agent.pk, result)], **kwargs).outcomes  # type: ignore[arg-type]  # each test passes the keywords it exercises
    agent.refresh_from_db()
    return outcome.action


def test_it_promotes_an_unknown_type_with_an_audit_row(db: None) -> None:
    agent = make_agent()
    register(make_profile("acme"), agent, "sales")  # no snapshot yet: published sales
    Agent.objects.filter(pk=agent.pk).update(type="unknown")
    assert apply(agent, answered(agent, "get_products", "ping")) == "promoted"
    assert agent.type == "sales"
    row = TypeReclassification.objects.get(source="crawler_promote")
    assert (row.old_type, row.new_type, row.member) == ("unknown", "sales", "acme")
    assert row.notes["tool_names"] == ["get_products"]
    snapshot = agent.snapshot
    assert (snapshot.inferred_type, snapshot.tool_names) == ("sales", ["get_products", "ping"])


def test_it_records_a_disagreement_once_and_never_flips(db: None) -> None:
    agent = make_agent()
    register(make_profile("bidcliq"), agent, "buying")
    for _ in range(3):
        apply(agent, answered(agent, "get_products"))
    assert agent.type == "buying"
    rows = TypeReclassification.objects.filter(source="crawler_disagreement")
    assert [(r.old_type, r.new_type) for r in rows] == [("buying", "sales")]
    assert agent.snapshot.disagreement_key == "buying->sales"


def test_a_new_disagreement_is_recorded_again(db: None) -> None:
    agent = make_agent(type="buying")
    assert apply(agent, answered(agent, "get_products")) == "disagreement"
    assert apply(agent, answered(agent, "build_creative")) == "disagreement"
    assert apply(agent, answered(agent, "build_creative")) == "confirmed"
    assert TypeReclassification.objects.filter(source="crawler_disagreement").count() == 2


def test_agreement_closes_the_disagreement_and_its_return_reopens_it_without_a_new_row(db: None) -> None:
    agent = make_agent(type="creative")
    apply(agent, answered(agent, "get_products"))
    apply(agent, answered(agent, "build_creative"))
    assert agent.snapshot.disagreement_key == ""
    assert apply(agent, answered(agent, "get_products")) == "confirmed"
    agent.snapshot.refresh_from_db()
    assert agent.snapshot.disagreement_key == "creative->sales"  # open again, for review
    assert TypeReclassification.objects.filter(source="crawler_disagreement").count() == 1


def test_an_agent_whose_tools_alternate_is_recorded_once_per_distinct_disagreement(db: None) -> None:
    agent = make_agent(type="buying")
    register(make_profile("flip"), agent, "buying")
    for _ in range(5):
        apply(agent, answered(agent, "get_products"))
        apply(agent, answered(agent, "build_creative"))
    rows = TypeReclassification.objects.filter(source="crawler_disagreement").order_by("pk")
    assert [(r.old_type, r.new_type) for r in rows] == [("buying", "sales"), ("buying", "creative")]
    assert Notice.objects.filter(kind="disagreement").count() == 2


def test_a_disagreement_past_the_window_is_recorded_again(db: None) -> None:
    agent = make_agent(type="buying")
    apply(agent, answered(agent, "get_products"))
    apply(agent, answered(agent, "build_creative"))
    later = timezone.now() + DISAGREEMENT_WINDOW + timedelta(days=1)
    assert apply(agent, answered(agent, "get_products"), now=later) == "disagreement"
    assert TypeReclassification.objects.filter(source="crawler_disagreement").count() == 3


def test_inferring_nothing_never_erases_a_type_or_an_earlier_inference(db: None) -> None:
    agent = make_agent(type="sales")
    make_snapshot(agent, "sales", ["get_products"])
    assert apply(agent, answered(agent, "ping")) == "unclassified"
    assert agent.type == "sales"
    agent.snapshot.refresh_from_db()
    assert (agent.snapshot.inferred_type, agent.snapshot.tool_names) == ("sales", ["get_products"])
    assert not TypeReclassification.objects.exists()


def test_a_failed_probe_keeps_the_last_good_snapshot(db: None) -> None:
    agent = make_agent(type="sales")
    good = make_snapshot(agent, "sales", ["get_products"])
    assert apply(agent, failed(agent, "auth_required")) == "failed"
    snapshot = CapabilitySnapshot.objects.get(pk=good.pk)
    assert (snapshot.inferred_type, snapshot.tool_names, snapshot.probed_at) == (
        "sales",
        ["get_products"],
        good.probed_at,
    )
    assert (snapshot.error_kind, snapshot.auth_required) == ("auth_required", True)
    assert snapshot.last_attempt_at is not None and good.probed_at is not None
    assert snapshot.last_attempt_at > good.probed_at
    assert agent.type == "sales"


def test_a_success_after_a_failure_clears_the_error(db: None) -> None:
    agent = make_agent(type="sales")
    apply(agent, failed(agent))
    apply(agent, answered(agent, "get_products"))
    agent.snapshot.refresh_from_db()
    assert (agent.snapshot.error_kind, agent.snapshot.error_message) == ("", "")


def test_the_first_failed_probe_creates_a_snapshot_without_evidence(db: None) -> None:
    agent = make_agent()
    apply(agent, failed(agent, "dns"))
    snapshot = CapabilitySnapshot.objects.get(agent=agent)
    assert (snapshot.probed_at, snapshot.inferred_type, snapshot.error_kind) == (None, None, "dns")


def test_unknown_agents_back_off_then_become_terminal(db: None) -> None:
    agent = make_agent()
    now = timezone.now()
    delays = []
    for attempt in range(1, TERMINAL_AFTER_ATTEMPTS + 1):
        apply(agent, failed(agent), now=now)
        snapshot = CapabilitySnapshot.objects.get(agent=agent)
        assert snapshot.unknown_attempts == attempt
        if snapshot.next_probe_after:
            delays.append((snapshot.next_probe_after - now).days)
    assert delays == [1, 2, 4, 7, 7, 7, 7, 7, 7]
    assert BACKOFF_DAYS == (1, 2, 4, 7)
    assert (snapshot.terminal_state, snapshot.next_probe_after) == ("unreachable", None)


def test_an_agent_that_answers_without_known_tools_becomes_unclassifiable(db: None) -> None:
    agent = make_agent()
    for _ in range(TERMINAL_AFTER_ATTEMPTS):
        apply(agent, answered(agent, "ping"))
    assert CapabilitySnapshot.objects.get(agent=agent).terminal_state == "unclassifiable"


def test_a_classification_resets_the_backoff(db: None) -> None:
    agent = make_agent()
    for _ in range(3):
        apply(agent, failed(agent))
    apply(agent, answered(agent, "get_signals"))
    snapshot = CapabilitySnapshot.objects.get(agent=agent)
    assert (snapshot.unknown_attempts, snapshot.next_probe_after, snapshot.terminal_state) == (0, None, "")
    assert agent.type == "signals"


def test_known_agents_are_never_put_on_backoff(db: None) -> None:
    agent = make_agent(type="buying")
    for _ in range(TERMINAL_AFTER_ATTEMPTS + 2):
        apply(agent, failed(agent))
    snapshot = CapabilitySnapshot.objects.get(agent=agent)
    assert (snapshot.unknown_attempts, snapshot.next_probe_after, snapshot.terminal_state) == (0, None, "")


def test_the_reprobe_source_and_run_id_are_recorded(db: None) -> None:
    import uuid

    agent = make_agent()
    run_id = uuid.uuid4()
    apply(agent, answered(agent, "get_products"), promote_source="reprobe", run_id=run_id, actor="ops")
    row = TypeReclassification.objects.get()
    assert (row.source, row.run_id, row.actor) == ("reprobe", run_id, "ops")


def test_a_batch_is_written_with_a_constant_number_of_queries(db: None) -> None:
    def batch(n: int) -> list[tuple[int, ProbeResult]]:
        agents = [make_agent() for _ in range(n)]
        for a in agents[::2]:
            make_snapshot(a, None)
        return [(a.pk, answered(a, "get_products") if i % 3 else failed(a)) for i, a in enumerate(agents)]

    small, large = batch(4), batch(60)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for results in (small, large):
        with CaptureQueriesContext(connection) as ctx:
            apply_probe_results(results)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize(
    "tools, expected",
    [
        (["get_products", "build_creative", "get_signals"], "sales"),
        (["BUILD_CREATIVE", "get_signals"], "creative"),
        (["activate_audience"], "signals"),
        (["validate_input"], "creative"),
        (["list_authorized_properties"], "sales"),
        (["get_products_v2", "create_media_buys", "ping"], None),
        ([], None),
    ],
)
def test_classification_follows_the_table(tools: list[str], expected: str | None) -> None:
    from crawler.classify import infer

    assert infer(tools).type == expected


@pytest.mark.parametrize(
    "published, inferred, open_disagreement, action, disagreement_after",
    [
        # inferring nothing never touches the type, nor an open disagreement
        ("sales", None, "", "unclassified", ""),
        ("buying", None, "buying->sales", "unclassified", "buying->sales"),
        ("unknown", None, "", "unclassified", ""),
        # a missing or unknown type is promoted
        ("unknown", "sales", "", "promoted", ""),
        ("", "creative", "", "promoted", ""),
        # the inference agrees: confirmed, any open disagreement closes
        ("sales", "sales", "", "confirmed", ""),
        ("sales", "sales", "sales->creative", "confirmed", ""),
        # a known type that differs is a disagreement, recorded once per distinct pair
        ("buying", "sales", "", "disagreement", "buying->sales"),
        ("buying", "sales", "buying->sales", "confirmed", "buying->sales"),
        ("buying", "creative", "buying->sales", "disagreement", "buying->creative"),
    ],
)
def test_the_type_decision_follows_the_table(
    published: str, inferred: str | None, open_disagreement: str, action: str, disagreement_after: str
) -> None:
    from crawler.policy import decide

    decision = decide(published, inferred, open_disagreement)
    assert (decision.action, decision.disagreement_key) == (action, disagreement_after)


def test_a_disagreement_recorded_lately_is_not_recorded_again() -> None:
    from crawler.policy import decide

    decision = decide("buying", "sales", "buying->creative", recorded={"buying->sales", "buying->creative"})
    assert (decision.action, decision.disagreement_key) == ("confirmed", "buying->sales")


@pytest.mark.parametrize("published", ["unknown", "sales"])
def test_a_failed_probe_decides_nothing_and_keeps_an_open_disagreement(published: str) -> None:
    from crawler.policy import decide

    decision = decide(published, None, "sales->creative", answered=False)
    assert (decision.action, decision.disagreement_key) == ("failed", "sales->creative")


def test_the_classification_table_yields_exactly_the_inferable_types() -> None:
    from crawler.classify import TOOLS_BY_TYPE, TYPE_BY_DECLARED_PROTOCOL
    from registry.types import INFERABLE_TYPES

    by_tools = {agent_type for agent_type, _ in TOOLS_BY_TYPE}
    by_declaration = {agent_type for _, agent_type in TYPE_BY_DECLARED_PROTOCOL}
    assert by_tools | by_declaration == INFERABLE_TYPES


@pytest.mark.parametrize(
    "tools, agent_type, evidence",
    [
        (["get_products", "ping", "GET_PRODUCTS", " get_products "], "sales", ["get_products"]),
        (["ping"], "sales", []),
        (["build_creative"], None, []),
        # every case spelling of a sales tool still makes one line of evidence
        (
            ["List_Authorized_Properties", "list_authorized_properties", "create_media_buy"],
            "sales",
            ["List_Authorized_Properties", "create_media_buy"],
        ),
    ],
)
def test_evidence_names_each_tool_once(tools: list[str], agent_type: str | None, evidence: list[str]) -> None:
    from crawler.classify import evidence_for

    assert evidence_for(tools, agent_type) == evidence


def test_evidence_is_bounded_whatever_an_agent_advertises() -> None:
    from crawler.classify import EVIDENCE_LIMIT, TOOLS_BY_TYPE, evidence_for
    from registry.types import AgentType
    from tests.servers import CASE_VARIANTS, case_variants

    # 50,000 case spellings of list_authorized_properties, then every sales tool
    variants = case_variants("list_authorized_properties", CASE_VARIANTS)
    assert len(set(variants)) == CASE_VARIANTS
    sales_tools = sorted(dict(TOOLS_BY_TYPE)[AgentType.SALES])
    evidence = evidence_for(variants + sales_tools, "sales")
    assert len(evidence) <= EVIDENCE_LIMIT
    assert sorted(e.lower() for e in evidence) == sales_tools


@pytest.mark.parametrize(
    "tools, declared, expected, source",
    [
        # AdCP 3 tool names
        (["check_governance", "sync_plans"], [], "governance", "tools"),
        (["get_brand_identity", "get_rights"], [], "brand", "tools"),
        (["get_rights", "acquire_rights"], [], "rights", "tools"),
        (["update_media_buy", "sync_creatives"], [], None, "tools"),
        # the declaration decides, sell-side first, whatever the tools say
        (["get_adcp_capabilities", "update_media_buy"], ["media_buy"], "sales", "declaration"),
        (["get_adcp_capabilities", "get_products"], ["measurement"], "measurement", "declaration"),
        (["get_adcp_capabilities"], ["brand", "governance"], "governance", "declaration"),
        (["get_adcp_capabilities"], ["creative", "signals", "media_buy"], "sales", "declaration"),
        (["get_adcp_capabilities"], ["signals", "measurement"], "signals", "declaration"),
        # sponsored_intelligence has no registry type: the tools decide
        (["get_adcp_capabilities", "get_signals"], ["sponsored_intelligence"], "signals", "tools"),
        (["get_adcp_capabilities"], ["sponsored_intelligence"], None, "tools"),
    ],
)
def test_an_adcp3_declaration_decides_else_the_tool_names(
    tools: list[str], declared: list[str], expected: str | None, source: str
) -> None:
    from crawler.classify import infer

    inference = infer(tools, declared)
    assert (inference.type, inference.source) == (expected, source)


@pytest.mark.parametrize("kind", ["auth_required", "auth_failed"])
def test_a_login_wall_is_never_given_up_as_unreachable(db: None, kind: str) -> None:
    agent = make_agent()
    for _ in range(TERMINAL_AFTER_ATTEMPTS + 2):
        apply(agent, failed(agent, kind))
    snapshot = CapabilitySnapshot.objects.get(agent=agent)
    assert (snapshot.terminal_state, snapshot.auth_required) == ("", True)
    # still probed, on the slow backoff
    assert snapshot.next_probe_after is not None and snapshot.last_attempt_at is not None
    assert (snapshot.next_probe_after - snapshot.last_attempt_at).days == BACKOFF_DAYS[-1]


def test_a_crawl_counts_login_walls_apart_from_failures(db: None) -> None:
    from crawler.policy import CrawlSummary

    walled, down = make_agent(), make_agent()
    outcomes = apply_probe_results([(walled.pk, failed(walled, "auth_required")), (down.pk, failed(down))]).outcomes
    summary = CrawlSummary().add(outcomes)
    assert (summary.auth_required, dict(summary.failed)) == (1, {"timeout": 1})
    assert "1 need credentials, failed: timeout 1" in summary.line()
