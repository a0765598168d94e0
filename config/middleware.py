"""Request hygiene that belongs to no app: refuse what no view should have to handle."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

# C0 controls (but tab, newline, carriage return) and DEL: PostgreSQL refuses NUL in
# text, and no legitimate query parameter carries them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class RefuseControlCharacters:
    """A query string with NUL or another control character is a 400, not a 500 deep in a view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for key, values in request.GET.lists():
            if _CONTROL.search(key) or any(_CONTROL.search(value) for value in values):
                return HttpResponseBadRequest(
                    "Query parameters may not contain control characters.", content_type="text/plain"
                )
        return self.get_response(request)
