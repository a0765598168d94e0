from django.apps import AppConfig


class CrawlerConfig(AppConfig):
    name = "crawler"
    verbose_name = "Crawler"

    def ready(self) -> None:
        from crawler.manual import probe_with_saved_credential
        from credentials.signals import credential_saved

        credential_saved.connect(probe_with_saved_credential, dispatch_uid="crawler.probe_with_saved_credential")
