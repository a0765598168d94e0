"""URL canonicalisation: the one function that decides when two spellings are one agent."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

import idna
from django.core.exceptions import ValidationError
from yarl import URL

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
_ASCII_SPACE = " \t\r\n\f\v"
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _invalid(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def _canonical_host(host: str) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise _invalid("The IPv6 address in the host is not closed with ']'.", "invalid_host")
        try:
            address = ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise _invalid(f"{host} is not a valid IPv6 address.", "invalid_host") from None
        return f"[{address.compressed}]"
    host = host.rstrip(".").lower()
    if not host:
        raise _invalid("The URL has no host.", "no_host")
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise _invalid(
                f"The host {host!r} is not a valid internationalised domain name ({exc}).", "invalid_host"
            ) from None
    labels = host.split(".")
    # 2130706433, 0x7f.1 or 0177.0.0.1 all reach 127.0.0.1 through inet_aton:
    # an address must be spelled as one, and a domain's last label is never numeric.
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        raise _invalid(f"The host {host!r} is neither a domain name nor a dotted IPv4 address.", "invalid_host")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise _invalid(f"The host {host!r} is not a valid domain name.", "invalid_host")
    return host


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def _normalise_escapes(path: str) -> str:
    """Decode percent-escapes of unreserved characters, upper-case the rest (RFC 3986 §6.2.2)."""

    def one(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    if re.search(r"%(?![0-9A-Fa-f]{2})", path):
        raise _invalid("The URL's path has a '%' that is not a percent-escape.", "invalid_path")
    # Non-ASCII characters go on the wire as the percent-escapes of their UTF-8 bytes.
    path = "".join(c if c.isascii() else "".join(f"%{b:02X}" for b in c.encode()) for c in path)
    return _PERCENT.sub(one, path)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4: what an HTTP client sends for ``/x/../mcp`` is ``/mcp``."""
    output: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    trailing = path.endswith(("/.", "/..")) and output
    return "/" + "/".join(output) + ("/" if trailing else "") if path else ""


def _canonical_query(query: str) -> str:
    """The query exactly as the probe's HTTP client (yarl) puts it on the wire: two
    spellings it sends alike, such as ``x=%E2%80%A8`` and ``x=\u2028``, are one."""
    if not query:
        return ""
    return URL("http://h/?" + query, encoded=False).raw_query_string


def _canonical_path(path: str) -> str:
    if ";" in path:
        raise _invalid("The URL's path has parameters (';'); register the endpoint without them.", "invalid_path")
    path = _remove_dot_segments(_normalise_escapes(path)).rstrip("/")
    if "//" in path:
        raise _invalid("The URL's path has an empty segment ('//'); register it without.", "invalid_path")
    return path


def canonicalize_agent_url(raw: object) -> str:
    """Return the canonical spelling of an agent URL, or raise ValidationError.

    The spelling an HTTP client sends: http/https only; host lower-cased (IDNA for
    non-ASCII); default port dropped; no user-info or fragment; the path with its
    dot segments removed, percent-escapes of unreserved characters decoded and the
    others upper-cased, no path parameters or empty segments, no trailing slash (the
    bare root is ``https://host``). The path keeps its case (paths are
    case-sensitive); the query string is spelled as the wire sends it (its order and
    case kept; non-ASCII percent-encoded as UTF-8, escapes the wire decodes decoded).
    """
    if not isinstance(raw, str) or not raw.strip(_ASCII_SPACE):
        raise _invalid("An agent URL is required.", "required")
    # Only ASCII white space: a Unicode separator (U+2028) is part of the URL, sent escaped.
    text = raw.strip(_ASCII_SPACE)
    if len(text) > MAX_URL_LENGTH:
        raise _invalid(f"The URL is longer than {MAX_URL_LENGTH} characters.", "too_long")
    if _FORBIDDEN_CHARS.search(text):
        raise _invalid("The URL contains spaces or characters that are not allowed in a URL.", "invalid_chars")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise _invalid(f"The URL cannot be parsed ({exc}).", "invalid") from None
    scheme = parts.scheme.lower()
    if not scheme or not parts.netloc:
        raise _invalid("The URL must be absolute, like https://agent.example.com/mcp.", "not_absolute")
    if scheme not in DEFAULT_PORTS:
        raise _invalid(f"The URL scheme must be http or https, not {scheme!r}.", "invalid_scheme")
    netloc = parts.netloc
    if "@" in netloc:
        raise _invalid("The URL must not contain a user name or password.", "userinfo")
    host, port_text = netloc, ""
    if netloc.startswith("["):
        end = netloc.find("]")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise _invalid("The URL's host and port are malformed.", "invalid_host")
            port_text = rest[1:]
    elif ":" in netloc:
        host, port_text = netloc.rsplit(":", 1)
    port: int | None = None
    if port_text:
        # str.isdigit() admits "²" and other digits int() refuses.
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise _invalid(f"The port {port_text!r} is not a number between 1 and 65535.", "invalid_port")
        port = int(port_text)
    host = _canonical_host(host)
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, _canonical_path(parts.path), _canonical_query(parts.query), ""))
