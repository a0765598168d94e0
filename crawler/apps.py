from django.apps import AppConfig


class CrawlerConfig(AppConfig):
    name = "crawler"
    verbose_name = "Crawler"

    def ready(self) -> None:
        from audit.models import notices_committed
        from crawler.manual import probe_with_saved_credential
        from crawler.notifications import on_notices_committed
        from credentials.signals import credential_saved

        notices_committed.connect(on_notices_committed, dispatch_uid="crawler.notifications")
        credential_saved.connect(probe_with_saved_credential, dispatch_uid="crawler.probe_with_saved_credential")
