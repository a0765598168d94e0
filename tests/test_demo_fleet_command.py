"""`manage.py serve_demo_agents`: bin/run's demo fleet starts, answers, and stops when told to."""

import signal
import socket
import subprocess
import sys

from tests.processes import ROOT, port_answers, wait_until
from tests.services import free_port


def test_it_stops_on_sigterm_while_the_silent_agent_holds_a_connection() -> None:
    port = free_port()
    fleet = subprocess.Popen(
        [sys.executable, "manage.py", "serve_demo_agents", "--port", str(port)],
        cwd=ROOT,
        env={"DEBUG": "1", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_answers(port), timeout=30, what="the demo fleet")
        body = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
        held = socket.create_connection(("127.0.0.1", port))
        held.sendall(
            b"POST /silent/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Accept: application/json, text/event-stream\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        fleet.send_signal(signal.SIGTERM)
        fleet.wait(timeout=10)  # TimeoutExpired if it hangs; bin/run's exit trap relies on it stopping
        held.close()
    finally:
        if fleet.poll() is None:
            fleet.kill()
            fleet.wait()
