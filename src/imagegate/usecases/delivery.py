"""The delivery use case: from a raw request to the bytes of a rendered variant.

A request costs, at best, a dictionary lookup, a signature check and a memory copy, all on
the event loop: parsing, authorising and planning are pure and cheap. Only what blocks goes
to threads (:class:`~imagegate.usecases.offload.Offload`): metadata the process has not seen
within ``metadata_cache_ttl``, variant-cache reads from disk, and renders, which wait behind
their own bounded lanes. Concurrent requests for the same cold variant share one render,
whoever asks: the delivery path or the dashboard's previews. A request that negotiated an
AVIF not yet made gets a stand-in at once (:meth:`Delivery.settle`), and the AVIF is encoded
in the background (:mod:`.avif_later`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import Counter
from dataclasses import dataclass

from imagegate.core.delivery_urls import BadDeliveryPath, DeliveryPath, parse_delivery_path
from imagegate.core.errors import (
    AccessDenied,
    BlobMissing,
    CorruptImage,
    DeliveryNotFound,
    FlexibleVariantsDisabled,
    ImagegateError,
    InvalidDeliveryUrl,
    UnknownAccountHash,
)
from imagegate.core.image_bytes import detect_format
from imagegate.core.levels import choose as choose_level
from imagegate.core.levels import level_size
from imagegate.core.models import Format, Variant
from imagegate.core.options import InvalidOptions, looks_flexible, parse_flexible
from imagegate.core.render_plan import output_pixel_cap, plan_geometry
from imagegate.core.signing import Outcome, Policy, verify
from imagegate.usecases.avif_later import AvifLater
from imagegate.usecases.caches import Caches
from imagegate.usecases.clock import Clock
from imagegate.usecases.levels import Levels
from imagegate.usecases.observer import Observer
from imagegate.usecases.offload import Offload
from imagegate.usecases.planning import Authorized, Plan, Planner
from imagegate.usecases.ports import BlobStore, DeliveryStore, ImageProcessor, KeySealer, KeyStore
from imagegate.usecases.records import CacheKey, DeliveryContext

log = logging.getLogger("imagegate.delivery")
FLEXIBLE = "_flex"


@dataclass(frozen=True, slots=True)
class Resolved:
    """A delivery context, with its keys ready for :func:`~imagegate.core.signing.verify`."""

    ctx: DeliveryContext
    keys: tuple[tuple[str, bytes], ...]

    @property
    def account_id(self) -> str:
        return self.ctx.account.id


class Delivery:
    def __init__(
        self,
        contexts: DeliveryStore,
        keys: KeyStore,
        sealer: KeySealer,
        blobs: BlobStore,
        processor: ImageProcessor,
        caches: Caches,
        observer: Observer,
        offload: Offload,
        planner: Planner,
        *,
        policy: Policy,
        max_side: int,
        clock: Clock,
        levels: Levels | None = None,
    ) -> None:
        self.contexts = contexts
        self.keys = keys
        self.sealer = sealer
        self.blobs = blobs
        self.processor = processor
        self.caches = caches
        self.observer = observer
        self.offload = offload
        self.planner = planner
        self.policy = policy
        self.max_side = max_side
        self.clock = clock
        self.levels = levels  # reduced copies of the originals, when kept
        self._usage: Counter[tuple[str, str]] = Counter()  # (account, key) -> verifications
        self._usage_lock = threading.Lock()
        self._inflight: dict[CacheKey, asyncio.Future[bytes]] = {}
        # Memoised pure functions: the same few paths and option strings come again and again.
        self._parse = functools.lru_cache(maxsize=8192)(parse_delivery_path)
        self._flexible = functools.lru_cache(maxsize=1024)(parse_flexible)
        self.avif_later = AvifLater(self.render, busy=offload.renders_waiting)

    # --- a request, start to end --------------------------------------------------------------

    async def request(self, raw_path: bytes, raw_query: bytes, accept: str) -> Plan:
        """The plan for a delivery request, once its access is checked: the signature, or
        a variant that needs none. Raises a ``DeliveryError`` (or ``StorageError``)."""
        path = self.parse(raw_path)
        resolved: Resolved | None = self.caches.contexts.get(_context_key(path))
        if resolved is None:
            resolved = await self.offload.io(self.load_context, path)
        authorized = self.authorize(resolved, path, raw_path, raw_query)
        return self.plan(authorized, accept)

    async def settle(self, plan: Plan) -> tuple[Plan, bytes | None]:
        """For a plan with a stand-in (a negotiated AVIF): the plan and its bytes when the
        AVIF is in memory, on disk or in the shared tier; else the stand-in's plan (the
        caller gets its bytes from :meth:`variant_bytes`), the AVIF's encode handed to the
        background. Raises ``StorageError`` only when the variant cache itself does."""
        data = self.from_memory(plan)
        if data is not None:
            return plan, data
        if not self.avif_later.pending(plan.key):
            data = await self.offload.io(self.from_disk, plan)
            if data is not None:
                return plan, data
            self.avif_later.offer(plan)
        return self.planner.stand_in(plan, int(self.clock())), None

    async def variant_bytes(self, plan: Plan) -> bytes:
        """The rendered bytes of a plan: from memory, from the variant cache, from the shared
        tier, or rendered, one render for every request that waits on the same variant.
        Raises ``Overloaded`` when the render's lane is full."""
        data = self.from_memory(plan)
        if data is not None:
            return data
        pending = self._inflight.get(plan.key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[plan.key] = future
        try:
            data = await self.offload.io(self.from_disk, plan)
            if data is None:
                data = await self.offload.render(self.render, plan, heavy=plan.target.heavy)
            future.set_result(data)
            return data
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters, if any, get it through shield
            raise
        finally:
            del self._inflight[plan.key]

    # --- pure and cheap: on the event loop ----------------------------------------------------

    def parse(self, raw_path: bytes) -> DeliveryPath:
        try:
            return self._parse(raw_path)
        except BadDeliveryPath:
            raise InvalidDeliveryUrl() from None

    def authorize(
        self, resolved: Resolved, path: DeliveryPath, raw_path: bytes, raw_query: bytes
    ) -> Authorized:
        ctx = resolved.ctx
        image = ctx.image
        if image is None or image.draft:
            raise DeliveryNotFound()
        if looks_flexible(path.last):
            if not ctx.account.flexible_variants:
                raise FlexibleVariantsDisabled()
            try:
                options = self._flexible(path.last, self.max_side)
            except InvalidOptions as exc:
                raise InvalidDeliveryUrl(f"Invalid variant options: {exc}") from None
            variant = Variant(FLEXIBLE, options)
        elif ctx.variant is None:
            raise AccessDenied()
        else:
            variant = ctx.variant
        if not image.require_signed_urls or variant.never_require_signed_urls:
            return Authorized(ctx.account, image, variant, signed=False, exp=None)
        verdict = verify(raw_path, raw_query, resolved.keys, int(self.clock()), self.policy)
        self.observer.verified(verdict.outcome.value, verdict.key_name)
        if verdict.key_name is not None:
            with self._usage_lock:
                self._usage[(ctx.account.id, verdict.key_name)] += 1
        if verdict.outcome is not Outcome.OK:
            log.info(
                "signature refused: %s", verdict.outcome.value, extra={"key": verdict.key_name}
            )
            raise AccessDenied()
        return Authorized(ctx.account, image, variant, signed=True, exp=verdict.exp)

    def plan(self, authorized: Authorized, accept: str) -> Plan:
        return self.planner.plan(authorized, accept, int(self.clock()))

    def from_memory(self, plan: Plan) -> bytes | None:
        data = self.caches.memory.get(plan.key)
        if data is not None:
            self.observer.looked_up("memory_hit")
        return data

    # --- blocking: in worker threads ----------------------------------------------------------

    def load_context(self, path: DeliveryPath) -> Resolved:
        variant = None if looks_flexible(path.last) else path.last
        read_at = self.caches.contexts.generation  # a change seen meanwhile: keep nothing
        ctx = self.contexts.context(path.account_hash, path.image_id, variant)
        if ctx is None:
            raise UnknownAccountHash()
        account_id = ctx.account.id
        resolved = Resolved(
            ctx,
            tuple(
                (k.name, self.sealer.open(k.value, account_id, k.name).encode("utf-8"))
                for k in ctx.keys
            ),
        )
        if ctx.image is not None:
            self.caches.contexts.put(_context_key(path), resolved, read_at)
        return resolved

    def from_disk(self, plan: Plan) -> bytes | None:
        """From this node's variant cache, else from the shared tier (any node's render)."""
        data = self.caches.variants.get(plan.key)
        if data is not None:
            self.observer.looked_up("disk_hit")
            self.caches.memory.put(plan.key, data)
            return data
        shared = self.caches.shared
        if shared is None:
            return None
        data = shared.get(plan.key)
        if data is not None:
            self.observer.looked_up("shared_hit")
            self.caches.memory.put(plan.key, data)
            self._keep_locally(plan, data)
        return data

    def render(self, plan: Plan) -> bytes:
        image = plan.authorized.image
        self.observer.looked_up("render")
        assert image.format is not None  # checked by the planner
        options = plan.authorized.variant.options
        rendered = self._from_level(plan) if self.levels is not None else None
        if rendered is None:
            try:
                source = self.blobs.get(image.blob_key)
            except BlobMissing:  # deleted since its record was read: it is gone, not broken
                self.caches.forget_metadata()
                raise DeliveryNotFound() from None
            rendered = self.processor.render(
                source, image.format, options, plan.output.format, keep_gps=plan.target.keep_gps
            )
        data, fmt = rendered
        if fmt is not plan.output.format:  # never serve bytes that are not the planned render
            log.error("render gave %s for a planned %s", fmt.value, plan.output.format.value)
            raise ImagegateError()
        self.caches.memory.put(plan.key, data)
        self._keep_locally(plan, data)
        if self.caches.shared is not None:
            self.caches.shared.offer(plan.key, data)  # in the background: never waits
        return data

    def _from_level(self, plan: Plan) -> tuple[bytes, Format] | None:
        """The render from the smallest reduced copy big enough, or None: no copy fits
        (or may be used), or the one that fits is missing or damaged, and is queued to be
        derived again."""
        levels = self.levels
        assert levels is not None
        image = plan.authorized.image
        options = plan.authorized.variant.options
        out = plan.output.format
        cap = output_pixel_cap(out, 1, self.planner.max_output_pixels)
        geometry = plan_geometry(image.width, image.height, options, cap)
        divisor = choose_level(image.format, image.width, image.height, out, options, geometry)
        if divisor is None:
            return None
        data = levels.read(image.blob_key, divisor)
        fmt = detect_format(data) if data is not None else None
        if data is not None and fmt is not None:
            try:
                rendered = self.processor.render(
                    data,
                    fmt,
                    options,
                    out,
                    keep_gps=plan.target.keep_gps,
                    original=(image.width, image.height),
                    level=level_size(image.width, image.height, divisor),
                )
            except CorruptImage:
                log.warning("reduced copy of %s is damaged: rebuilding it", image.blob_key)
            else:
                levels.used += 1
                return rendered
        levels.queue(image)
        return None

    def _keep_locally(self, plan: Plan, data: bytes) -> None:
        try:
            self.caches.variants.put(plan.key, data)
        except ImagegateError as exc:  # a full cache disk must not fail the request
            log.warning("variant cache write failed: %s", type(exc).__name__)

    def flush_key_usage(self) -> None:
        """Write the verification counts gathered since the last flush."""
        with self._usage_lock:
            usage, self._usage = self._usage, Counter()
        by_account: dict[str, dict[str, int]] = {}
        for (account_id, name), count in usage.items():
            by_account.setdefault(account_id, {})[name] = count
        for account_id, counts in by_account.items():
            self.keys.add_verifications(account_id, counts)


def _context_key(path: DeliveryPath) -> tuple[str, str, str | None]:
    variant = None if looks_flexible(path.last) else path.last
    return (path.account_hash, path.image_id, variant)
