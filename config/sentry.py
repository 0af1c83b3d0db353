"""Error reports to a Sentry-compatible server (self-hosted on the intranet) when ``SENTRY_DSN``
is set; nothing is loaded otherwise. Unhandled errors and ERROR log records become events
(INFO and up as their breadcrumbs), with the release and environment. No personal data is
sent (no user, address, cookies or bodies: the SDK's defaults, never turned on here); traces
only when ``SENTRY_TRACES_SAMPLE_RATE`` is set."""

from __future__ import annotations

import logging
from importlib import metadata

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration


def start(dsn: str, *, release: str, environment: str, traces_sample_rate: float) -> None:
    if not release:
        try:
            release = f"lantai@{metadata.version('lantai')}"
        except metadata.PackageNotFoundError:  # a checkout that was never installed
            release = "lantai"
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment=environment,
        max_request_body_size="never",
        traces_sample_rate=traces_sample_rate,
        integrations=[
            DjangoIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
    )
