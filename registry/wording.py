"""What people read: counts ("1 agent", "2 agents") and an inference in words."""

from __future__ import annotations

from collections.abc import Sequence

from registry.types import AgentType, InferenceSource


def counted(count: int, noun: str) -> str:
    return f"{count} {noun if count == 1 else noun + 's'}"


def listed(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def inference_in_words(inferred_type: str | None, inferred_by: str, evidence: Sequence[str]) -> str:
    """The rule that decided, as a reviewer reads it: "advertises get_products: a sales agent"."""
    if not inferred_type:
        return "answered without a tool or declaration that names a type"
    label = AgentType(inferred_type).label.lower()
    what = f"an {label} agent" if label[0] in "aeiou" else f"a {label} agent"
    if inferred_by == InferenceSource.DECLARATION:
        declared = [item.split(":", 1)[-1].strip() for item in evidence]
        return f"declares supported_protocols {listed(declared)} (AdCP 3): {what}"
    return f"advertises {listed(list(evidence))}: {what}"
