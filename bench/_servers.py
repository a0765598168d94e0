"""What the benchmarks' agent servers share: serving an aiohttp app on a free loopback port."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import time

from aiohttp import web


def serve_forever(app: web.Application, port_queue: multiprocessing.Queue[int]) -> None:
    """Serve on 127.0.0.1, report the port, and run until the parent terminates this process."""

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]  # a started site has its server
        await asyncio.sleep(3600)

    asyncio.run(main())


def wait_for_port(port: int, *, attempts: int = 100) -> None:
    for _ in range(attempts):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")
