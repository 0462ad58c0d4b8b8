from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.actor import Actor, reset_current_actor, set_current_actor
from core.correlation import clean_correlation_id, reset_correlation_id, set_correlation_id


class CorrelationIdMiddleware:
    """Take `X-Correlation-Id` from the caller (or mint one) and echo it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = clean_correlation_id(request.headers.get("X-Correlation-Id"))
        request.correlation_id = correlation_id
        token = set_correlation_id(correlation_id)
        try:
            response = self.get_response(request)
        finally:
            reset_correlation_id(token)
        response["X-Correlation-Id"] = correlation_id
        return response


class ActorMiddleware:
    """Make the signed-in user the current actor of the request (`core.actor.current_actor`).

    After AuthenticationMiddleware. The user is looked up only if something asks.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        def resolve() -> Actor | None:
            user = getattr(request, "user", None)
            return Actor.for_user(user) if user is not None and user.is_authenticated else None

        token = set_current_actor(resolve)
        try:
            return self.get_response(request)
        finally:
            reset_current_actor(token)
