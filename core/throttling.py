"""API throttles: DRF's, keyed on the client's address as ``core.client_ip`` resolves it.

DRF's own ``get_ident`` believes any ``X-Forwarded-For`` a client writes (with ``NUM_PROXIES``
unset it keys on the whole header), so rotating the header escaped every limit. The counters
live in the default cache, which every server process shares (Redis, or the database).

Kept apart from ``core.api``: ``rest_framework.views`` reads ``DEFAULT_THROTTLE_CLASSES`` at
import, so these classes must load without it.
"""

from __future__ import annotations

import logging

from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework import throttling

from core.client_ip import client_ip

logger = logging.getLogger(__name__)


class ClientAddressMixin(throttling.SimpleRateThrottle):
    """``get_ident`` from ``core.client_ip``; should Redis be unreachable, the request is counted
    in this process's memory instead: the limit then holds per process until Redis is back, and
    the API keeps answering (a Redis outage degrades live push only)."""

    def get_ident(self, request) -> str:
        return client_ip(request) or ""

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            logger.warning("throttle: shared cache unreachable (%s); counting per process", exc)
            self.cache = caches["local"]
            return super().allow_request(request, view)


class AnonRateThrottle(ClientAddressMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientAddressMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(ClientAddressMixin, throttling.ScopedRateThrottle):
    pass
