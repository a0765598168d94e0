"""How gunicorn serves the registry (config/gunicorn.py): a member's request on the
members' listener is taken at the next free slot, not behind the public queue."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.db import connection

from tests.factories import make_agent, make_profile, register
from tests.processes import ROOT, port_answers, stop_process_group, wait_until
from tests.services import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served() -> Iterator[tuple[int, int, int]]:
    """The registry under gunicorn with one worker of one thread: (public port, members'
    port, the process group of gunicorn and its worker)."""
    public, members = free_port(), free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "ALLOWED_HOSTS": "127.0.0.1",
        "WEB_BIND": f"127.0.0.1:{public}",
        "MEMBERS_BIND": f"127.0.0.1:{members}",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_until(lambda: port_answers(public) and port_answers(members), timeout=30, what="gunicorn")
        yield public, members, server.pid
    finally:
        stop_process_group(server, grace=5)


def request(port: int, path: str, token: str = "") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    authorization = f"Authorization: Token {token}\r\n" if token else ""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}\r\n".encode())
    return sock


def finishing_order(sockets: dict[str, socket.socket]) -> list[str]:
    """The names of the requests in the order their answers ended, each checked to be a 200."""
    selector = selectors.DefaultSelector()
    answers = {}
    for name, sock in sockets.items():
        selector.register(sock, selectors.EVENT_READ, name)
        answers[name] = b""
    order: list[str] = []
    while len(order) < len(sockets):
        for key, _ in selector.select(timeout=30):
            chunk = key.fileobj.recv(65536)  # type: ignore[union-attr]  # a socket, registered above
            if chunk:
                answers[key.data] += chunk
                continue
            selector.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]
            order.append(key.data)
    selector.close()
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers.values()), answers
    return order


def test_a_members_request_overtakes_the_public_queue_on_its_own_listener(served: tuple[int, int, int]) -> None:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    profile = make_profile("acme")
    for i in range(100):
        register(profile, make_agent(f"https://a{i}.acme.example/mcp"), "sales")
    owner = User.objects.create_user("owner")
    profile.owners.add(owner)
    token = Token.objects.create(user=owner).key
    public, members, group = served

    # Stopped, the worker accepts nothing: every request waits in its listener's queue,
    # in the order sent, as behind a busy server.
    os.killpg(group, signal.SIGSTOP)
    try:
        queued = {f"public {i}": request(public, "/api/registry/agents?page_size=100") for i in range(20)}
        queued["member, on the public listener"] = request(public, "/api/me/member-profile", token)
        queued["member, on the members' listener"] = request(members, "/api/me/member-profile", token)
    finally:
        os.killpg(group, signal.SIGCONT)
    order = finishing_order(queued)

    # The worker takes one request at a time, from either listener: the members' listener's
    # is answered first or second; the same request sent to the public listener waits for all 20.
    assert order.index("member, on the members' listener") <= 1, order
    assert order[-1] == "member, on the public listener", order
