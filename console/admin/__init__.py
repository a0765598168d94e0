"""The model admins and their actions; Django's autodiscovery imports this package."""

from console.admin import agents, audit, credentials, domains, members, notifications, reprobe

__all__ = ["agents", "audit", "credentials", "domains", "members", "notifications", "reprobe"]
