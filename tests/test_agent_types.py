import pytest
from django.core.exceptions import ValidationError

from registry.types import AgentType, parse_agent_type


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("sales", AgentType.SALES),
        ("Creative", AgentType.CREATIVE),
        (" signals ", AgentType.SIGNALS),
        ("buying", AgentType.BUYING),
        ("buyer", AgentType.BUYING),
        ("seller", AgentType.SALES),
        ("SELLER", AgentType.SALES),
        ("unknown", AgentType.UNKNOWN),
        ("governance", AgentType.GOVERNANCE),
        ("Brand", AgentType.BRAND),
        ("rights", AgentType.RIGHTS),
        ("measurement", AgentType.MEASUREMENT),
    ],
)
def test_it_reads_types_and_legacy_spellings(raw: str, expected: AgentType) -> None:
    assert parse_agent_type(raw) == expected


def test_it_refuses_other_strings_naming_the_allowed_ones() -> None:
    with pytest.raises(ValidationError) as exc:
        parse_agent_type("publisher")
    message = exc.value.messages[0]
    assert "'publisher' is not an agent type" in message
    assert "sales, creative, signals, governance, brand, rights, measurement, buying" in message


@pytest.mark.parametrize("raw", ["", "   ", None, 3])
def test_it_requires_a_type(raw: object) -> None:
    with pytest.raises(ValidationError, match="required"):
        parse_agent_type(raw)


def test_it_can_refuse_unknown_as_a_declaration() -> None:
    with pytest.raises(ValidationError, match="not a declaration"):
        parse_agent_type("unknown", allow_unknown=False)
