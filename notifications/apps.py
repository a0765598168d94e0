from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from audit.models import notices_committed
        from notifications.delivery import on_notices_committed

        notices_committed.connect(on_notices_committed, dispatch_uid="notifications.delivery")
