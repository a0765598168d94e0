import uuid

import pytest
from django.test import Client, override_settings

from crawler.jobs import crawl_chunk
from crawler.models import CrawlChunk
from registry.models import CapabilitySnapshot
from tests.backfill_fixtures import frozen
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
    assert '<span class="big">5</span> agents, <strong>60.0%</strong> unclassified' in page
    assert "<title>Unclassified: 3</title>" in page
    assert ">1</a></span> open disagreements" in page
    assert "1 unreachable</a>" in page
    assert '<span class="big">2</span> probed, 1 promoted' in page and "Failed: http_status 1" in page
    assert f"run {run_id}" in page
    assert "<th>Crawler promote</th><td>1</td>" in page


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
