"""Metrics (behind a bearer token) and access logs.

Counting on the hot path costs a dictionary increment: the delivery and management code keep
plain counters, and a Prometheus collector reads them only when ``/metrics`` is scraped.
Request latency goes into fixed buckets by a bisect. Every response that lacks it gets
``X-Content-Type-Options: nosniff``. Access logs are one JSON object per
request on the ``imagegate.access`` logger, with secrets redacted (:mod:`imagegate.web.redaction`):
credential-named query parameters such as the ``sig`` of a signed URL or a ``token``, and the
secret of a direct-upload URL; every other log line of a server goes through a redacting
formatter. Each worker process counts for itself, and the workers of a node pool their
counts (a :class:`~imagegate.usecases.ports.MetricsShare`) so that a scrape reaching any one
of them reports the whole node, every series labelled with the node's name.
"""

from __future__ import annotations

import atexit
import bisect
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from logging import StreamHandler
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imagegate.core.errors import MetricsOff, Unauthenticated
from imagegate.usecases.observer import LOOKUPS, Observer, Snapshot
from imagegate.usecases.ports import MetricsShare
from imagegate.web.access_log import BufferedAccessLog, access_line, access_log, through_logging
from imagegate.web.errors import api_response
from imagegate.web.redaction import RedactingFormatter, redact_path, redact_query

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_NOSNIFF = (b"x-content-type-options", b"nosniff")
LOG_FORMAT = "%(levelname)s %(name)s %(message)s"


def configure_logging() -> BufferedAccessLog | None:
    """Logs for a server process: INFO to stderr, every line but the access log's (redacted
    field by field as it is written) passed through :class:`RedactingFormatter`. Returns
    the buffered writer the access lines should take to the same stream
    (:mod:`imagegate.web.access_log`), written out at exit at the latest; None when the
    root logger writes somewhere else than one stream."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    formatter = RedactingFormatter(LOG_FORMAT, skip=(access_log.name,))
    handlers = logging.getLogger().handlers
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.getLogger("pyvips").setLevel(logging.WARNING)  # it narrates every operation
    if len(handlers) != 1 or type(handlers[0]) is not logging.StreamHandler:
        return None
    stream: StreamHandler[Any] = handlers[0]
    writer = BufferedAccessLog(stream.stream, stream.lock)
    atexit.register(writer.flush)
    return writer


class Latency:
    """Request durations by kind (delivery or api) and status class, in fixed buckets."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = {}
        self.sums: dict[tuple[str, str], float] = {}

    def observe(self, kind: str, status: int, seconds: float) -> None:
        key = (kind, f"{status // 100}xx")
        counts = self.counts.get(key)
        if counts is None:
            counts = self.counts[key] = [0] * (len(BUCKETS) + 1)
            self.sums[key] = 0.0
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.sums[key] += seconds

    def as_counts(self) -> list[list[Any]]:
        """``[kind, status, bucket counts, sum]`` rows (JSON-able, to pool with others)."""
        return [[k, s, list(c), self.sums[(k, s)]] for (k, s), c in list(self.counts.items())]

    @staticmethod
    def summed(parts: list[list[list[Any]]]) -> Latency:
        """The latencies of several processes, added up."""
        total = Latency()
        for rows in parts:
            for kind, status, counts, seconds in rows:
                key = (str(kind), str(status))
                if len(counts) != len(BUCKETS) + 1:
                    continue  # another version's buckets
                mine = total.counts.setdefault(key, [0] * (len(BUCKETS) + 1))
                for i, count in enumerate(counts):
                    mine[i] += int(count)
                total.sums[key] = total.sums.get(key, 0.0) + float(seconds)
        return total


class ImagegateCollector(Collector):
    """What the observer counted, and the request latencies, as Prometheus families: this
    process's, summed with those the node's other workers shared."""

    def __init__(self, observer: Observer, latency: Latency, share: MetricsShare, node: str):
        self.observer = observer
        self.latency = latency
        self.share = share
        self.node = node

    def publish(self) -> None:
        """Share this process's counts with the node's other workers."""
        self.share.publish(self.counts())

    def counts(self) -> dict[str, Any]:
        return {
            "observer": self.observer.snapshot().as_counts(),
            "latency": self.latency.as_counts(),
        }

    def collect(self) -> Iterator[Any]:
        own = self.counts()
        self.share.publish(own)
        parts = self.share.gather() or [(own, True)]
        seen = Snapshot.summed([(p.get("observer", {}), alive) for p, alive in parts])
        latency = Latency.summed([p.get("latency", []) for p, _ in parts])
        node = self.node
        verifications = CounterMetricFamily(
            "imagegate_signature_verifications",
            "Signature checks of private images, by outcome and by the key that matched.",
            labels=["node", "outcome", "key"],
        )
        for (outcome, key), count in sorted(seen.verifications.items()):
            verifications.add_metric([node, outcome, key], count)
        yield verifications

        cache = CounterMetricFamily(
            "imagegate_variant_requests",
            "Rendered-variant lookups: memory_hit, disk_hit, shared_hit, or render (a miss).",
            labels=["node", "result"],
        )
        for event in LOOKUPS:
            cache.add_metric([node, event], seen.lookups.get(event, 0))
        yield cache

        uploads = CounterMetricFamily("imagegate_uploads", "Images uploaded.", labels=["node"])
        uploads.add_metric([node], seen.uploads)
        yield uploads
        upload_bytes = CounterMetricFamily(
            "imagegate_upload_bytes", "Bytes of images uploaded.", labels=["node"]
        )
        upload_bytes.add_metric([node], seen.upload_bytes)
        yield upload_bytes
        memory = GaugeMetricFamily(
            "imagegate_memory_cache_bytes",
            "Bytes held by the variant memory caches of the node's running workers.",
            labels=["node"],
        )
        memory.add_metric([node], seen.memory_cache_bytes)
        yield memory
        pending = GaugeMetricFamily(
            "imagegate_copies_pending",
            "Originals waiting for their reduced copies to be derived, on the running workers.",
            labels=["node"],
        )
        pending.add_metric([node], seen.copies_pending)
        yield pending

        histogram = HistogramMetricFamily(
            "imagegate_request_duration_seconds",
            "Time from request to the end of the response.",
            labels=["node", "kind", "status"],
        )
        for (kind, status), counts in sorted(latency.counts.items()):
            running, buckets = 0, []
            for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                running += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
            histogram.add_metric([node, kind, status], buckets, latency.sums[(kind, status)])
        yield histogram


def registry_for(collector: ImagegateCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def metrics_endpoint(
    registry: CollectorRegistry, token: str | None
) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics``: the Prometheus text, only to a request that carries
    ``Authorization: Bearer <IMAGEGATE_METRICS_TOKEN>``. Without that setting it is off for
    everyone (403); a missing or wrong token gets 401. The metrics name signing keys and
    show traffic, so they are no one's business but the operator's."""
    expected = None if token is None else hashlib.sha256(token.encode("utf-8")).digest()

    async def metrics(request: Request) -> Response:
        if expected is None:
            return api_response(MetricsOff())
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        digest = hashlib.sha256(given.strip().encode("utf-8", "replace")).digest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(digest, expected):
            refused = api_response(Unauthenticated())
            refused.headers["WWW-Authenticate"] = 'Bearer realm="imagegate metrics"'
            return refused
        return Response(
            generate_latest(registry),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )

    return metrics


class Observed:
    """ASGI wrapper: times each HTTP request and writes its access-log line, through
    ``write`` (a :class:`BufferedAccessLog`) or else as a record of the access logger."""

    def __init__(
        self,
        app: ASGIApp,
        latency: Latency,
        *,
        log_requests: bool,
        write: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.latency = latency
        self.log_requests = log_requests
        self.write = write or through_logging

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        sent = 0

        async def watch(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", [])
                if not any(name.lower() == b"x-content-type-options" for name, _ in headers):
                    message = {**message, "headers": [*headers, _NOSNIFF]}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            elapsed = time.perf_counter() - start
            path: str = scope["path"]
            kind = "api" if path.startswith(("/accounts/", "/upload/", "/client/v4")) else "other"
            if scope.get("imagegate.delivery"):
                kind = "delivery"
            self.latency.observe(kind, status, elapsed)
            if self.log_requests and access_log.isEnabledFor(logging.INFO):
                self.write(
                    access_line(
                        scope["method"],
                        redact_path(path),
                        redact_query(scope.get("query_string", b"")),
                        status,
                        sent,
                        round(elapsed * 1000, 2),
                        (scope.get("client") or ("", 0))[0],
                    )
                )
