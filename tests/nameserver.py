"""A real name server on 127.0.0.1 (dnslib) answering the records a test sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dnslib import QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


@dataclass
class Zone(BaseResolver):
    """Names (lower case, no trailing dot) to their TXT strings and A addresses."""

    txt: dict[str, list[str]] = field(default_factory=dict)
    a: dict[str, str] = field(default_factory=dict)

    def clear(self) -> None:
        self.txt.clear()
        self.a.clear()

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        if qtype == "TXT":
            for value in self.txt.get(name, []):
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(value), ttl=0))
        elif qtype == "A" and name in self.a:
            reply.add_answer(RR(name, QTYPE.A, rdata=A(self.a[name]), ttl=0))
        if name not in self.txt and name not in self.a:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


class NameServer:
    """Serves a zone over UDP on a free port of 127.0.0.1 until closed."""

    def __init__(self) -> None:
        self.zone = Zone()
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        self.server = DNSServer(self.zone, address="127.0.0.1", port=0, logger=quiet)
        self.server.start_thread()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server.server_address[1]}"

    def close(self) -> None:
        self.server.stop()
