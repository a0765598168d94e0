"""Counts in messages people read: "1 agent", "2 agents"."""


def counted(count: int, noun: str) -> str:
    return f"{count} {noun if count == 1 else noun + 's'}"
