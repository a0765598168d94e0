"""One writer of the published type: what it refuses, what it reports, who may call it."""

import ast
from pathlib import Path

import pytest

from audit.models import TypeReclassification
from registry.models import Agent, PublishedTypeIsReadOnly
from registry.publish import AgentState, Drift, TypeChange, apply_type_changes, drift
from registry.review import keep_published, review_plan
from tests.factories import make_agent, make_profile, make_snapshot, register

ROOT = Path(__file__).resolve().parent.parent
APPS = ("console", "demo", "crawler", "credentials", "notifications", "members", "registry", "audit", "probe", "config")


def test_saving_an_agent_with_a_changed_type_raises_and_writes_nothing(db: None) -> None:
    agent = make_agent(type="buying")
    agent.type = "sales"
    with pytest.raises(PublishedTypeIsReadOnly, match="apply_type_changes"):
        agent.save()
    assert Agent.objects.get(pk=agent.pk).type == "buying"
    assert not TypeReclassification.objects.exists()


def test_saving_after_a_refresh_sees_the_type_the_writer_published(db: None) -> None:
    agent = make_agent(type="unknown")
    Agent.objects.filter(pk=agent.pk).update(type="sales")
    agent.refresh_from_db()
    agent.name = "Renamed"
    agent.save()  # the type as stored now is not a change
    assert Agent.objects.values_list("type", "name").get(pk=agent.pk) == ("sales", "Renamed")


@pytest.mark.parametrize(
    "expected, found, checks_inference, reason",
    [
        (AgentState("buying", "sales"), AgentState("buying", "sales"), True, None),
        (AgentState("buying", "sales"), None, True, Drift.DELETED),
        (AgentState("buying", "sales"), AgentState("buying", "creative"), True, Drift.INFERENCE),
        (AgentState("buying", "sales"), AgentState("buying", None), True, Drift.INFERENCE),
        (AgentState("buying", "sales"), AgentState("buying", "creative"), False, None),
        (AgentState("buying", "sales"), AgentState("creative", "sales"), True, Drift.TYPE),
        (AgentState("buying", "sales"), AgentState("creative", "creative"), True, Drift.INFERENCE),
        (AgentState("buying", "sales"), AgentState("creative", "creative"), False, Drift.TYPE),
    ],
)
def test_stale_means_the_row_moved_since_the_plan(
    expected: AgentState, found: AgentState | None, checks_inference: bool, reason: Drift | None
) -> None:
    assert drift(expected, found, checks_inference=checks_inference) == reason


def test_keeping_a_type_whose_inference_changed_since_the_plan_is_stale(db: None) -> None:
    agent = make_agent()
    register(make_profile("swivel"), agent, "buying")
    make_snapshot(agent, "sales", ["get_products"])  # the reviewer sees buying vs sales
    plan = review_plan([agent.pk])
    agent.snapshot.inferred_type = "creative"  # a crawl infers creative before they confirm
    agent.snapshot.save()
    result = keep_published(plan, actor="rita", note="really buys")
    assert result.applied == [] and [(s.change.agent_id, s.found) for s in result.stale] == [
        (agent.pk, "inferred creative")
    ]
    agent.refresh_from_db()
    assert (agent.type, agent.review_kept_inferred, agent.review_kept_by) == ("buying", None, "")
    assert not TypeReclassification.objects.filter(source="admin_review").exists()


def test_found_state_without_the_transaction_that_locked_it_is_refused(transactional_db: None) -> None:
    agent = make_agent(type="buying")
    change = TypeChange(agent_id=agent.pk, agent_url=agent.url, old_type="buying", new_type="sales")
    with pytest.raises(RuntimeError, match="transaction that holds"):
        apply_type_changes([change], source="admin_review", found={agent.pk: AgentState("buying", None)})
    assert Agent.objects.get(pk=agent.pk).type == "buying"


def _python_files(app: str) -> list[Path]:
    return [p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]


def _writes_agent_type(tree: ast.AST) -> list[int]:
    """Lines that assign ``<x>.type``, call ``.update(type=...)`` or bulk-update a "type" field."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute) and part.attr == "type" and isinstance(part.ctx, ast.Store):
                        lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "update" and any(k.arg == "type" for k in node.keywords):
                lines.append(node.lineno)
            if node.func.attr == "bulk_update" and "'type'" in ast.dump(node):
                lines.append(node.lineno)
    return lines


def test_exactly_one_module_of_the_application_writes_agent_type() -> None:
    writers = {
        str(path.relative_to(ROOT)): found
        for app in APPS
        for path in _python_files(app)
        if (found := _writes_agent_type(ast.parse(path.read_text())))
    }
    assert list(writers) == ["registry/publish.py"], writers


# DESIGN.md's order; ``probe`` is a library below them all.
ORDER = ["console", "demo", "crawler", "credentials", "notifications", "members", "registry", "audit", "probe"]


def _imports(app: str) -> list[tuple[Path, int, str]]:
    found = []
    for path in _python_files(app):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found += [(path, node.lineno, node.module)]
            elif isinstance(node, ast.Import):
                found += [(path, node.lineno, alias.name) for alias in node.names]
    return found


def test_imports_run_one_way_down_the_apps_to_the_probe() -> None:
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for app in ORDER
        for path, line, name in _imports(app)
        if name.split(".")[0] in ORDER and ORDER.index(name.split(".")[0]) < ORDER.index(app)
    ]
    assert upward == []


def test_the_probe_imports_no_model_and_no_app() -> None:
    reaching = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path, line, name in _imports("probe")
        if name.split(".")[0] in ORDER[:-1] or name.endswith(".models") and name != "django.db.models"
    ]
    assert reaching == []


def test_the_crawler_sends_no_email_posts_no_webhook_and_seals_no_secret() -> None:
    # Those belong to notifications and credentials; the crawler asks them through their models.
    elsewhere = ("django.core.mail", "requests", "cryptography")
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path, line, name in _imports("crawler")
        if name.startswith(elsewhere)
    ]
    assert found == []
