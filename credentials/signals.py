from django.dispatch import Signal

# Sent (inside the saving transaction) with ``agent_id`` when an agent's credential
# is saved; the crawler answers with a words-only account of the probe it asked for.
credential_saved = Signal()
