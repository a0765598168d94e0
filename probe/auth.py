"""Signing a probe's requests with the agent owner's credential.

Credentials go only to the agent's own origin (scheme, host and port of its
registered URL): a redirect or an endpoint on another origin gets no
credential. OAuth client credentials fetch an access token from ``token_url``,
or discover it as MCP clients do: the 401's ``WWW-Authenticate: Bearer
resource_metadata=...`` (RFC 9728) -> ``authorization_servers`` -> the
authorization server's metadata (RFC 8414, then OpenID discovery) ->
``token_endpoint``; every URL on that path is fetched like a probe's (address
policy, byte budget, deadline).

The client secret goes only in the body of one POST to the token endpoint,
never re-sent on a redirect. A discovered endpoint is accepted only when the
resource metadata names this agent's origin as its ``resource``, the
authorization server's metadata names that server as its own ``issuer`` (RFC
8414 section 3.3), and the endpoint is on the issuer's origin or the agent's.
Access tokens are cached per saved credential and agent, until shortly before
they expire: two credentials never share a token, however alike they look.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from typing import Any
from urllib.parse import urlencode

from yarl import URL

from probe.http import HttpClient, check_status, parse_json, same_origin
from probe.masking import also_mask
from probe.result import ProbeFailure
from probe.target import Credential, CredentialScheme
from probe.vocabulary import ProbeErrorKind

TOKEN_MARGIN = 30.0  # seconds before expiry a cached token is no longer used
_RESOURCE_METADATA = re.compile(r'resource_metadata="([^"]{1,2048})"')
# Both keyed by (agent URL, the saved credential's fingerprint).
_tokens: dict[tuple[str, str], tuple[str, float]] = {}
# Token endpoints found by discovery: later probes of the agent skip discovery.
_endpoints: dict[tuple[str, str], str] = {}
_tokens_lock = threading.Lock()


def _fingerprint(credential: Credential) -> str:
    """Identifies one saved credential, secret included, without keeping the secret."""
    material = json.dumps([credential.scheme, credential.fields], sort_keys=True).encode()
    return hashlib.sha256(material).hexdigest()


def forget_tokens() -> None:
    """Drop every cached access token (tests; a rotated client secret)."""
    with _tokens_lock:
        _tokens.clear()
        _endpoints.clear()


class SignIn:
    """One agent's credential, for the requests of one probe."""

    def __init__(self, credential: Credential, agent_url: str) -> None:
        self.credential = credential
        self.agent_url = URL(agent_url)
        self.cache_key = (str(self.agent_url), _fingerprint(credential))
        self.access_token = ""
        self._refreshing = False

    def headers_for(self, url: URL) -> dict[str, str]:
        if not same_origin(url, self.agent_url):
            return {}
        fields = self.credential.fields
        if self.credential.scheme == CredentialScheme.BEARER:
            return {"Authorization": f"Bearer {fields['token']}"}
        if self.credential.scheme == CredentialScheme.HEADER:
            return {fields["name"]: fields["value"]}
        return {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}

    def _known_token_url(self) -> str:
        with _tokens_lock:
            discovered = _endpoints.get(self.cache_key, "")
        return self.credential.fields.get("token_url") or discovered

    async def prepare(self, http: HttpClient) -> None:
        """Fetch (or reuse) an access token when its endpoint is already known."""
        if self.credential.scheme == CredentialScheme.OAUTH_CLIENT_CREDENTIALS and (
            token_url := self._known_token_url()
        ):
            self.access_token = await self._token(http, token_url)

    async def refresh(self, http: HttpClient, www_authenticate: str) -> bool:
        """After a 401: get a token (discovering where) and say whether to retry once."""
        if self.credential.scheme != CredentialScheme.OAUTH_CLIENT_CREDENTIALS or self._refreshing:
            return False
        self._refreshing = True
        try:
            token_url = self._known_token_url() or await self._discover(http, www_authenticate)
            self.access_token = await self._token(http, token_url, cached=False)
            with _tokens_lock:
                _endpoints[self.cache_key] = token_url
            return True
        finally:
            self._refreshing = False

    async def _json(self, http: HttpClient, url: str) -> dict[str, Any]:
        response = await http.request("GET", url, headers={"Accept": "application/json"})
        async with response:
            check_status(response)
            document = parse_json(await http.read_body(response), "the OAuth metadata")
        if not isinstance(document, dict):
            raise ProbeFailure(ProbeErrorKind.AUTH_FAILED, "the OAuth metadata is not a JSON object")
        return document

    async def _discover(self, http: HttpClient, www_authenticate: str) -> str:
        match = _RESOURCE_METADATA.search(www_authenticate)
        if not match:
            raise ProbeFailure(
                ProbeErrorKind.AUTH_FAILED, "no token_url saved, and the agent's 401 names no resource_metadata"
            )
        resource = await self._json(http, match.group(1))
        named = resource.get("resource")
        if not isinstance(named, str) or not _same_origin_url(named, self.agent_url):
            raise ProbeFailure(
                ProbeErrorKind.AUTH_FAILED, "the protected-resource metadata does not name this agent as its resource"
            )
        servers = resource.get("authorization_servers")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
            raise ProbeFailure(
                ProbeErrorKind.AUTH_FAILED, "the protected-resource metadata names no authorization server"
            )
        issuer = URL(servers[0])
        path = issuer.path.rstrip("/")
        for well_known in ("oauth-authorization-server", "openid-configuration"):
            # RFC 8414 inserts the well-known segment before the issuer's path.
            metadata_url = str(issuer.with_path(f"/.well-known/{well_known}{path}"))
            try:
                metadata = await self._json(http, metadata_url)
            except ProbeFailure:
                continue
            return self._checked_endpoint(issuer, metadata)
        raise ProbeFailure(ProbeErrorKind.AUTH_FAILED, "the authorization server publishes no token_endpoint")

    def _checked_endpoint(self, issuer: URL, metadata: dict[str, Any]) -> str:
        """The token endpoint, if this authorization server may receive the client secret."""
        claimed = metadata.get("issuer")
        if not isinstance(claimed, str) or claimed.rstrip("/") != str(issuer).rstrip("/"):
            raise ProbeFailure(ProbeErrorKind.AUTH_FAILED, "the authorization server's metadata names another issuer")
        endpoint = metadata.get("token_endpoint")
        if not isinstance(endpoint, str):
            raise ProbeFailure(ProbeErrorKind.AUTH_FAILED, "the authorization server publishes no token_endpoint")
        if not (_same_origin_url(endpoint, issuer) or _same_origin_url(endpoint, self.agent_url)):
            raise ProbeFailure(
                ProbeErrorKind.AUTH_FAILED,
                "the token endpoint is on neither the issuer's origin nor the agent's; the secret is not sent",
            )
        return endpoint

    async def _token(self, http: HttpClient, token_url: str, *, cached: bool = True) -> str:
        fields = self.credential.fields
        key = self.cache_key
        with _tokens_lock:
            token, expires = _tokens.get(key, ("", 0.0))
        if cached and token and expires > time.monotonic():
            also_mask(token)
            return token
        form = {"grant_type": "client_credentials", "client_id": fields["client_id"]}
        form["client_secret"] = fields["client_secret"]
        if fields.get("scope"):
            form["scope"] = fields["scope"]
        body = urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        # The secret goes to this one URL: a redirect is refused, never followed with the form.
        try:
            response = await http.request("POST", token_url, body=body, headers=headers, sign=False, redirects=False)
        except ProbeFailure as failure:
            if failure.kind != ProbeErrorKind.AUTH_REQUIRED:
                raise
            raise ProbeFailure(
                ProbeErrorKind.AUTH_FAILED, f"the token endpoint refused the client ({failure})"
            ) from None
        async with response:
            if 300 <= response.status < 400:
                raise ProbeFailure(
                    ProbeErrorKind.AUTH_FAILED,
                    f"the token endpoint redirected (HTTP {response.status}); the secret is not sent again",
                )
            if response.status >= 400:
                raise ProbeFailure(
                    ProbeErrorKind.AUTH_FAILED, f"the token endpoint refused the client (HTTP {response.status})"
                )
            document = parse_json(await http.read_body(response), "the token response")
        issued = document.get("access_token") if isinstance(document, dict) else None
        if not isinstance(issued, str) or not issued:
            raise ProbeFailure(ProbeErrorKind.AUTH_FAILED, "the token response has no access_token")
        token = issued
        also_mask(token)
        lifetime = document.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 300.0
        with _tokens_lock:
            _tokens[key] = (token, time.monotonic() + max(0.0, seconds - TOKEN_MARGIN))
        return token


def _same_origin_url(url: str, origin_of: URL) -> bool:
    try:
        return same_origin(URL(url), origin_of)
    except ValueError:
        return False
