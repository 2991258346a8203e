"""The delivery use case: from a raw request to the bytes of a rendered variant.

Split into steps so the web layer can run each where it belongs: parsing, authorising and
planning are pure and cheap (run on the event loop); loading metadata, reading the variant
cache and rendering block (run in threads, renders behind their own limiter).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from imagegate import ids
from imagegate.caching import MemoryLRU, TtlCache
from imagegate.errors import (
    AccessDenied,
    BlobMissing,
    DeliveryNotFound,
    FlexibleVariantsDisabled,
    ImagegateError,
    InvalidDeliveryUrl,
    SvgNotTransformable,
    UnknownAccountHash,
)
from imagegate.http_cache import cache_control, etag_for
from imagegate.keyseal import KeySeal
from imagegate.models import Account, Format, Image, MetadataMode, Variant, VariantOptions
from imagegate.ports import (
    BlobStore,
    CacheKey,
    DeliveryContext,
    ImageProcessor,
    MetadataStore,
    VariantCache,
)
from imagegate.render_plan import keeps_vector, may_animate, plan_geometry, render_cost
from imagegate.signing import Outcome, Policy, verify
from imagegate.urls import BadDeliveryPath, DeliveryPath, parse_delivery_path
from imagegate.variants import (
    InvalidOptions,
    Output,
    choose_output,
    looks_flexible,
    output_side,
    parse_flexible,
)

log = logging.getLogger("imagegate.delivery")
FLEXIBLE = "_flex"
#: Part of every cache key: raised whenever what a render produces changes, so no entry a
#: previous version wrote (such as an animation it passed through untouched) is served.
RENDER_VERSION = "2"


class Caches:
    """What a process remembers between requests, and how writes make it forget."""

    def __init__(self, variants: VariantCache, memory_bytes: int, context_ttl: float) -> None:
        self.variants = variants
        self.memory: MemoryLRU[CacheKey] = MemoryLRU(memory_bytes)
        self.contexts: TtlCache[tuple[str, str, str | None], Resolved] = TtlCache(context_ttl)

    def forget_metadata(self) -> None:
        self.contexts.clear()

    def purge_image(self, account_id: str, image_id: str) -> None:
        digest = ids.image_digest(image_id)
        self.contexts.clear()
        self.memory.discard(lambda k: k.account_id == account_id and k.image_digest == digest)
        self.variants.purge_image(account_id, digest)

    def purge_variant(self, account_id: str, variant: str) -> None:
        self.contexts.clear()
        self.memory.discard(lambda k: k.account_id == account_id and k.variant == variant)
        self.variants.purge_variant(account_id, variant)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A delivery context, with its keys ready for :func:`~imagegate.signing.verify`."""

    ctx: DeliveryContext
    keys: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Authorized:
    account: Account
    image: Image
    variant: Variant
    signed: bool  # served under a verified signature
    exp: int | None


@dataclass(frozen=True, slots=True)
class Target:
    """The part of a plan that depends only on the image, the variant and ``Accept``."""

    image: Image
    options: VariantOptions
    output: Output
    key: CacheKey
    etag: str
    ttl: int
    keep_gps: bool  # metadata=keep gives out GPS: the account opted in
    heavy: bool  # rendered in the heavy lane (see web/offload.py)


@dataclass(slots=True)
class Plan:
    """How to answer an authorised request: what to render, and the response's headers.

    Built on every request and never changed; not declared frozen only because a frozen
    dataclass costs about 0.7 µs more to build (each field set through ``object.__setattr__``).
    """

    authorized: Authorized
    output: Output
    key: CacheKey
    etag: str
    cache_control: str
    target: Target  # the rest of what renders it: keep_gps, heavy


class Deliverer:
    def __init__(
        self,
        meta: MetadataStore,
        blobs: BlobStore,
        processor: ImageProcessor,
        caches: Caches,
        *,
        policy: Policy,
        max_side: int,
        avif_max_side: int,
        max_output_pixels: int = 25_000_000,
        heavy_pixels: int = 10_000_000,
        keyseal: KeySeal | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.meta = meta
        self.blobs = blobs
        self.processor = processor
        self.caches = caches
        self.policy = policy
        self.max_side = max_side
        self.avif_max_side = avif_max_side
        self.max_output_pixels = max_output_pixels
        self.heavy_pixels = heavy_pixels
        self.keyseal = keyseal or KeySeal(None)
        self.clock = clock
        self.verdicts: Counter[tuple[str, str]] = Counter()  # (outcome, key name or "")
        self.events: Counter[str] = Counter()  # memory_hit, disk_hit, render
        self._usage: Counter[tuple[str, str]] = Counter()
        self._usage_lock = threading.Lock()
        # Memoised pure functions: the same few paths and option strings come again and again.
        self._parse = functools.lru_cache(maxsize=8192)(parse_delivery_path)
        self._flexible = functools.lru_cache(maxsize=1024)(parse_flexible)
        self._targets: dict[tuple[int, int, str, str, bool], Target] = {}

    # --- pure and cheap: on the event loop ----------------------------------------------

    def parse(self, raw_path: bytes) -> DeliveryPath:
        try:
            return self._parse(raw_path)
        except BadDeliveryPath:
            raise InvalidDeliveryUrl() from None

    def cached_context(self, path: DeliveryPath) -> Resolved | None:
        return self.caches.contexts.get(_context_key(path))

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
        self.verdicts[(verdict.outcome.value, verdict.key_name or "")] += 1
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
        target = self._target(authorized, accept)
        control = cache_control(
            private=authorized.signed,
            browser_ttl=target.ttl,
            exp=authorized.exp,
            now=int(self.clock()),
        )
        return Plan(authorized, target.output, target.key, target.etag, control, target)

    def _target(self, authorized: Authorized, accept: str) -> Target:
        """What to serve for an image, variant and ``Accept``: the same answer for every
        request until the image's metadata is read again, so it is remembered."""
        image, variant, gps = authorized.image, authorized.variant, authorized.account.keep_gps
        memo = (id(image), id(variant.options), variant.name, accept, gps)
        found = self._targets.get(memo)
        if found is not None and found.image is image and found.options is variant.options:
            return found
        if image.format is None:
            raise DeliveryNotFound()
        options = variant.options
        source = image.format
        if source is Format.SVG and not keeps_vector(image.width, image.height, options):
            raise SvgNotTransformable()  # never the drawing through a transforming variant
        side = output_side(image.width, image.height, options)
        output = choose_output(options.format, accept, source, side, self.avif_max_side)
        keep_gps = gps and options.metadata is MetadataMode.KEEP
        digest = _render_digest(image, options, output, image.require_signed_urls, keep_gps)
        key = CacheKey(
            authorized.account.id, ids.image_digest(image.id), variant.name, digest, output.format
        )
        ttl = options.browser_ttl or authorized.account.browser_ttl
        heavy = self._heavy(image, source, output.format, options)
        target = Target(image, options, output, key, etag_for(digest), ttl, keep_gps, heavy)
        if len(self._targets) >= 8192:
            self._targets.clear()
        self._targets[memo] = target
        return target

    def _heavy(self, image: Image, source: Format, output: Format, options: VariantOptions) -> bool:
        """Whether a render goes to the heavy lane: its estimated pixel work is over the
        threshold, or it may keep an animation's frames (how many is known only once the
        file is read, so it is taken to be heavy)."""
        if source is Format.SVG:  # served as the sanitised drawing: no pixels
            return False
        if may_animate(source, output, options):
            return True
        geometry = plan_geometry(image.width, image.height, options, self.max_output_pixels)
        cost = render_cost(image.width, image.height, source, output, geometry, options)
        return cost > self.heavy_pixels

    def from_memory(self, plan: Plan) -> bytes | None:
        data = self.caches.memory.get(plan.key)
        if data is not None:
            self.events["memory_hit"] += 1
        return data

    # --- blocking: in worker threads ----------------------------------------------------

    def load_context(self, path: DeliveryPath) -> Resolved:
        variant = None if looks_flexible(path.last) else path.last
        ctx = self.meta.delivery_context(path.account_hash, path.image_id, variant)
        if ctx is None:
            raise UnknownAccountHash()
        account_id = ctx.account.id
        resolved = Resolved(
            ctx,
            tuple(
                (k.name, self.keyseal.open(k.value, account_id, k.name).encode("utf-8"))
                for k in ctx.keys
            ),
        )
        if ctx.image is not None:
            self.caches.contexts.put(_context_key(path), resolved)
        return resolved

    def from_disk(self, plan: Plan) -> bytes | None:
        data = self.caches.variants.get(plan.key)
        if data is not None:
            self.events["disk_hit"] += 1
            self.caches.memory.put(plan.key, data)
        return data

    def render(self, plan: Plan) -> bytes:
        image = plan.authorized.image
        self.events["render"] += 1
        try:
            source = self.blobs.get(image.blob_key)
        except BlobMissing:  # deleted since its record was read: it is gone, not broken
            self.caches.forget_metadata()
            raise DeliveryNotFound() from None
        assert image.format is not None  # checked by plan()
        options = plan.authorized.variant.options
        data, fmt = self.processor.render(
            source, image.format, options, plan.output.format, keep_gps=plan.target.keep_gps
        )
        if fmt is not plan.output.format:  # never serve bytes that are not the planned render
            log.error("render gave %s for a planned %s", fmt.value, plan.output.format.value)
            raise ImagegateError()
        self.caches.memory.put(plan.key, data)
        try:
            self.caches.variants.put(plan.key, data)
        except ImagegateError as exc:  # a full cache disk must not fail the request
            log.warning("variant cache write failed: %s", type(exc).__name__)
        return data

    def flush_key_usage(self) -> None:
        """Write the verification counts gathered since the last flush."""
        with self._usage_lock:
            usage, self._usage = self._usage, Counter()
        by_account: dict[str, dict[str, int]] = {}
        for (account_id, name), count in usage.items():
            by_account.setdefault(account_id, {})[name] = count
        for account_id, counts in by_account.items():
            self.meta.add_key_verifications(account_id, counts)


def _context_key(path: DeliveryPath) -> tuple[str, str, str | None]:
    variant = None if looks_flexible(path.last) else path.last
    return (path.account_hash, path.image_id, variant)


def _render_digest(
    image: Image, options: VariantOptions, output: Output, private: bool, keep_gps: bool
) -> str:
    return _digest(image.sha256, image.blob_key, private, options, output, keep_gps)


@functools.lru_cache(maxsize=8192)
def _digest(
    sha256: str, blob_key: str, private: bool, options: VariantOptions, out: Output, gps: bool
) -> str:
    """Memoised: a pure function of its arguments, asked the same question on every hit.
    ``gps`` (a keep variant of an account that opted in to GPS) names other bytes, so
    flipping the opt-in never serves a copy made under the other setting."""
    token = "|".join(
        (
            RENDER_VERSION,
            sha256,
            blob_key,
            "private" if private else "public",
            options.cache_token(),
            out.format.value,
            "baseline" if out.baseline else "",
            "gps" if gps else "",
        )
    )
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
