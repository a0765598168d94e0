from registry.models import Agent
from tests.factories import make_agent


def test_saving_a_stale_instance_does_not_write_back_its_type(db: None) -> None:
    agent = make_agent(type="unknown")
    loaded = Agent.objects.get(pk=agent.pk)
    Agent.objects.filter(pk=agent.pk).update(type="sales")  # an audited writer promotes it meanwhile
    loaded.name = "Renamed in the admin"
    loaded.save()
    fresh = Agent.objects.get(pk=agent.pk)
    assert (fresh.type, fresh.name) == ("sales", "Renamed in the admin")
