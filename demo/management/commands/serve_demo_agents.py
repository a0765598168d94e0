from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Serve the demo agent fleet on 127.0.0.1: every agent of the demo table, in the dialect it speaks "
        "(MCP, MCP 2026-07-28 only, legacy HTTP+SSE, a bare origin, AdCP 3, A2A, behind a bearer token, "
        "and one that never answers). seed_demo's agents point here."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765)

    def handle(self, *args: Any, port: int, **options: Any) -> None:
        import logging

        import uvicorn

        # The SDK logs every session at INFO; the demo's story is in the registry.
        logging.getLogger("mcp").setLevel(logging.WARNING)

        from demo.fleet import demo_fleet_app

        self.stdout.write(self.style.SUCCESS(f"Demo agents on http://127.0.0.1:{port}/ (Ctrl-C to stop)"))
        self.stdout.flush()  # said now, also to a pipe or a log file: the server runs until stopped
        # The silent agent never closes its connections: without a bound, Ctrl-C or
        # SIGTERM would wait for them forever.
        uvicorn.run(demo_fleet_app(), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1)
