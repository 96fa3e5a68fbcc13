"""Request body limits: every endpoint takes a body only as large as it needs, and a larger one is
refused (413) from its Content-Length before anything reads or parses it.

A view names its limit with `@body_limit(n)` (kept on the function like `auth.allow`'s roles, and
carried through `functools.wraps`); a view that names none takes a page form's worth. A body sent
without a Content-Length (chunked) is cut at the same limit as it is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

F = TypeVar("F", bound=Callable[..., Any])

KIB = 1024
DEFAULT_BODY = 64 * KIB  # a page's form: the longest field is a few hundred characters
_ATTRIBUTE = "checkin_max_body"


def body_limit(size: int) -> Callable[[F], F]:
    """Let a view take a body of up to `size` bytes."""

    def mark(view: F) -> F:
        setattr(view, _ATTRIBUTE, size)
        return view

    return mark


def limit_of(endpoint: str | None) -> int:
    """The body limit of an endpoint of the current app (the default for one that names none)."""
    view = current_app.view_functions.get(endpoint or "")
    return int(getattr(view, _ATTRIBUTE, DEFAULT_BODY))


def largest() -> int:
    """The largest body any endpoint of the current app takes (a server's own cap)."""
    return max([DEFAULT_BODY, *(int(getattr(v, _ATTRIBUTE, 0)) for v in current_app.view_functions.values())])


def check_body() -> None:
    """Before every view, before anything reads the body: refuse one larger than the view takes."""
    limit = limit_of(request.endpoint)
    request.max_content_length = limit  # a chunked body is cut here as it is read
    length = request.content_length
    if length is not None and length > limit:
        raise RequestEntityTooLarge(f"the body is {length} bytes; this endpoint takes at most {limit}")
