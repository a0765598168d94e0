from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """Every staff-facing page: model admins, review, backfill and reprobe, the dashboard.

    It sits above the domain apps and calls their rules; nothing imports it.
    """

    name = "console"
    verbose_name = "Staff console"
