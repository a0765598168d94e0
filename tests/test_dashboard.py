import re
import uuid
from collections import Counter
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console.charts import FONT, text_width
from crawler.jobs import crawl_chunk
from crawler.models import CrawlChunk
from registry.models import Agent, CapabilitySnapshot, TypeCountDay
from registry.trends import reconstruct, record_type_counts
from registry.types import AgentType
from tests.backfill_fixtures import frozen
from tests.dashboard_history import make_history
from tests.factories import make_agent, make_staff


@pytest.fixture
def staff(client: Client, db: None) -> Client:
    client.force_login(make_staff())
    return client


def test_the_dashboard_shows_the_registry_at_a_glance(staff: Client, official_agents: str, hostile: str) -> None:
    frozen("bidcliq", "buying", "sales")
    make_agent("https://u1.example.com/mcp")
    gone = make_agent("https://gone.example.com/mcp")
    CapabilitySnapshot.objects.create(agent=gone, terminal_state="unreachable")
    answering = make_agent(f"{official_agents}/json/mcp")
    failing = make_agent(f"{hostile}/status/500")
    run_id = str(uuid.uuid4())
    crawl_chunk([answering.pk, failing.pk], run_id)
    assert CrawlChunk.objects.get().probed == 2

    page = staff.get("/admin/dashboard/").content.decode()
    assert '<a href="/admin/registry/agent/">5</a></span> agents' in page
    assert '<a href="/admin/registry/agent/?type__exact=unknown"><strong>60.0%</strong> unclassified</a>' in page
    assert "<title>Unclassified: 3 (60.0%)</title>" in page
    assert '<a href="/admin/registry/disagreement/">1</a></span> open disagreements' in page
    assert '<a href="/admin/registry/disagreement/?age=day">1 open under a day</a>' in page
    assert '<a href="/admin/registry/agent/?snapshot__terminal_state__exact=unreachable">1 unreachable</a>' in page
    assert '<span class="big">2</span> probed, 1 promoted' in page and "Failed: http_status 1" in page
    assert f"?q={run_id}" in page
    promote = "/admin/audit/typereclassification/?applied=yes&amp;source__exact=crawler_promote&amp;changed_at__gte="
    assert promote in page and "Crawler promote (applied): 1</a>" in page
    assert "Recorded only (disagreements, kept types): 0</a>" in page


def test_the_dashboard_is_staff_only(client: Client, db: None) -> None:
    response = client.get("/admin/dashboard/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_admin_index_links_to_it(staff: Client) -> None:
    page = staff.get("/admin/").content.decode()
    assert 'href="/admin/dashboard/"' in page


@pytest.mark.parametrize("redis_url, linked", [("", False), ("redis://127.0.0.1:6379/15", True)])
def test_the_job_queue_link_is_there_only_with_queues(staff: Client, redis_url: str, linked: bool) -> None:
    with override_settings(REDIS_URL=redis_url):
        page = staff.get("/admin/dashboard/").content.decode()
    assert ("/admin/django-rq/" in page) == linked
    assert ('id="no-job-queues"' in page) != linked


def _charts(page: str) -> list[ElementTree.Element]:
    return [ElementTree.fromstring(svg) for svg in re.findall(r"<svg viewBox=.*?</svg>", page, flags=re.S)]


def _inside(chart: ElementTree.Element) -> list[str]:
    """Every mark and label of the chart that reaches past its viewBox."""
    _, _, width, height = (float(n) for n in chart.attrib["viewBox"].split())
    outside = []
    for node in chart.iter():
        tag = node.tag.split("}")[-1]
        if tag == "rect":
            x, y = float(node.attrib["x"]), float(node.attrib["y"])
            right, bottom = x + float(node.attrib["width"]), y + float(node.attrib["height"])
        elif tag == "circle":
            r = float(node.attrib["r"])
            x, y = float(node.attrib["cx"]) - r, float(node.attrib["cy"]) - r
            right, bottom = x + 2 * r, y + 2 * r
        elif tag == "text":
            advance = text_width(node.text or "")
            x = float(node.attrib["x"]) - (advance / 2 if node.attrib.get("text-anchor") == "middle" else 0)
            y, right, bottom = float(node.attrib["y"]) - FONT, x + advance, float(node.attrib["y"]) + 3
        else:
            continue
        if x < 0 or y < 0 or right > width + 0.5 or bottom > height + 0.5:
            outside.append(f"{tag} {node.text or node.findtext('{*}title') or ''!r} at {x:.0f}..{right:.0f}")
    return outside


@pytest.mark.parametrize("agents", [0, 1, 10_000])
def test_every_chart_draws_every_type_inside_its_view_box(staff: Client, agents: int) -> None:
    make_history(agents)
    page = staff.get("/admin/dashboard/").content.decode()
    charts = _charts(page)
    assert len(charts) == 6  # by type, unclassified share, share per type, events, crawl duration, crawl outcomes
    for chart in charts:
        assert _inside(chart) == [], chart.findtext("{*}title")
    by_type = charts[0]
    drawn = {node.text.split(":")[0] for node in by_type.iter() if node.tag == "title" and node.text}
    present = set(Agent.objects.values_list("type", flat=True))
    assert {AgentType(t).label for t in present} <= drawn
    assert drawn >= {t.label for t in AgentType}  # every type has its row, 0 included
    if agents:
        shares = charts[2]
        # 90 days of columns, the reconstructed ones paler
        columns = [node for node in shares.iter() if node.tag == "rect"]
        assert len({(rect.findtext("title") or "").split(",")[0] for rect in columns}) == 90
        assert any(rect.get("fill-opacity") for rect in columns)


@pytest.mark.parametrize("agents,days,crawls", [(1, 2, 1), (3000, 90, 30)])
def test_the_dashboard_costs_the_same_queries_for_any_number_of_agents_and_days(
    staff: Client, agents: int, days: int, crawls: int
) -> None:
    make_history(agents, days, crawls)
    staff.get("/admin/dashboard/")  # the session and the user, loaded once
    with CaptureQueriesContext(connection) as queries:
        staff.get("/admin/dashboard/")
    # session, user, agents by type, daily counts, events, the last crawls (the last one among
    # them), waiting (2)
    assert len(queries) == 8, [q["sql"][:80] for q in queries]


def test_a_days_counts_are_recorded_once_and_the_days_before_reconstructed(db: None) -> None:
    from audit.models import Source
    from registry.publish import TypeChange, apply_type_changes

    agent = make_agent("https://once-unknown.example.com/mcp")
    make_agent("https://always-unknown.example.com/mcp")
    apply_type_changes([TypeChange(agent.pk, agent.url, "unknown", "sales")], source=Source.CRAWLER_PROMOTE)
    today = timezone.localdate()
    assert reconstruct(today + timedelta(days=3), Counter({"sales": 1, "unknown": 1})) == 9 * 89
    counts = {
        (day - today).days: (sales, unknown)
        for day, sales, unknown in [
            (day, rows.get("sales", 0), rows.get("unknown", 0))
            for day in [today - timedelta(days=1), today, today + timedelta(days=2)]
            for rows in [dict(TypeCountDay.objects.filter(day=day).values_list("type", "count"))]
        ]
    }
    # After today's change: 1 sales, 1 unknown. The day before: both agents created today did not exist.
    assert counts == {-1: (0, 0), 0: (1, 1), 2: (1, 1)}
    assert set(TypeCountDay.objects.values_list("reconstructed", flat=True)) == {True}

    # Today recorded; the three oldest days of today's window reconstructed; the rest stays.
    assert record_type_counts() == 9 + 3 * 9
    assert TypeCountDay.objects.filter(day=today, reconstructed=False).count() == 9
    assert record_type_counts() == 9  # again: an upsert, no second row
    assert TypeCountDay.objects.filter(day=today).count() == 9


def test_the_waiting_figures_link_to_the_lists_they_count(staff: Client) -> None:
    from datetime import timedelta as days

    fresh = frozen("fresh", "buying", "sales").agent
    old = frozen("stale", "buying", "sales").agent
    CapabilitySnapshot.objects.filter(agent=old).update(disagreement_since=timezone.now() - days(days=9))
    waiting = make_agent("https://waiting.example.com/mcp")
    CapabilitySnapshot.objects.create(agent=waiting, next_probe_after=timezone.now() + days(hours=3))
    page = staff.get("/admin/dashboard/").content.decode()
    for figure, href, listed, absent in [
        ("1 open under a day", "/admin/registry/disagreement/?age=day", fresh, old),
        ("1 open over a week", "/admin/registry/disagreement/?age=older", old, fresh),
        ("1 unknown agent in backoff", "/admin/registry/agent/?backoff=waiting", waiting, fresh),
    ]:
        assert f'<a href="{href}">{figure}</a>' in page
        listing = staff.get(href).content.decode()
        assert listed.url in listing and absent.url not in listing, href
