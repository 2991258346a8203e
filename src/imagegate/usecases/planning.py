"""What to serve for an authorised request: the output format, the cache key and ETag, the
headers' lifetimes, and which render lane it takes. Pure, and memoised per image, variant
and ``Accept``: a cached variant's request asks the same question every time.

A target negotiated to AVIF carries its stand-in (``Target.stand_in``): what to serve at
once, with a short ``max-age``, while that AVIF is encoded in the background
(:mod:`.avif_later`)."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from imagegate.core import ids
from imagegate.core.errors import DeliveryNotFound, SvgNotTransformable
from imagegate.core.http_caching import cache_control, etag_for
from imagegate.core.models import (
    Account,
    Format,
    Image,
    MetadataMode,
    OutputFormat,
    Variant,
    VariantOptions,
)
from imagegate.core.negotiation import Output, avif_stand_in, choose_output, output_side
from imagegate.core.render_plan import keeps_vector, may_animate, plan_geometry, render_cost
from imagegate.usecases.records import CacheKey

#: Part of every cache key: raised whenever what a render produces changes, so no entry a
#: previous version wrote (such as an animation it passed through untouched) is served.
RENDER_VERSION = "2"
_MEMO_SIZE = 8192


@dataclass(frozen=True, slots=True)
class Authorized:
    """A request allowed to see a variant of an image."""

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
    heavy: bool  # rendered in the heavy lane (see usecases/offload.py)
    #: A negotiated AVIF's stand-in, served while the AVIF is not made (None: wait for it)
    stand_in: Target | None = None


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


class Planner:
    """Plans for authorised requests, under the operator's limits."""

    def __init__(
        self,
        *,
        avif_max_side: int,
        max_output_pixels: int,
        heavy_pixels: int,
        avif_stand_in_ttl: int | None = None,
    ) -> None:
        """``avif_stand_in_ttl``: the ``max-age`` of a negotiated AVIF's stand-in (at most
        the variant's own); None serves no stand-in: the AVIF is waited for."""
        self.avif_max_side = avif_max_side
        self.avif_stand_in_ttl = avif_stand_in_ttl
        self.max_output_pixels = max_output_pixels
        self.heavy_pixels = heavy_pixels
        self._targets: dict[tuple[int, int, str, str, bool], Target] = {}

    def plan(self, authorized: Authorized, accept: str, now: int) -> Plan:
        target = self.target(authorized, accept)
        control = cache_control(
            private=authorized.signed, browser_ttl=target.ttl, exp=authorized.exp, now=now
        )
        return Plan(authorized, target.output, target.key, target.etag, control, target)

    def stand_in(self, plan: Plan, now: int) -> Plan:
        """The plan of ``plan``'s stand-in (which it must have): a short ``max-age``, as
        private as the AVIF's."""
        target = plan.target.stand_in
        assert target is not None
        authorized = plan.authorized
        control = cache_control(
            private=authorized.signed,
            browser_ttl=target.ttl,
            exp=authorized.exp,
            now=now,
            stand_in=True,
        )
        return Plan(authorized, target.output, target.key, target.etag, control, target)

    def target(self, authorized: Authorized, accept: str) -> Target:
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
        ttl = options.browser_ttl or authorized.account.browser_ttl
        stand_in = None
        if (
            self.avif_stand_in_ttl is not None
            and output.format is Format.AVIF
            and options.format is OutputFormat.AUTO
        ):
            fallback = avif_stand_in(accept, source)
            stand_in = self._make(authorized, fallback, min(ttl, self.avif_stand_in_ttl), None)
        target = self._make(authorized, output, ttl, stand_in)
        if len(self._targets) >= _MEMO_SIZE:
            self._targets.clear()
        self._targets[memo] = target
        return target

    def _make(
        self, authorized: Authorized, output: Output, ttl: int, stand_in: Target | None
    ) -> Target:
        image, variant = authorized.image, authorized.variant
        options = variant.options
        assert image.format is not None
        keep_gps = authorized.account.keep_gps and options.metadata is MetadataMode.KEEP
        digest = _digest(
            image.sha256, image.blob_key, image.require_signed_urls, options, output, keep_gps
        )
        key = CacheKey(
            authorized.account.id, ids.image_digest(image.id), variant.name, digest, output.format
        )
        heavy = self._heavy(image, image.format, output.format, options)
        return Target(image, options, output, key, etag_for(digest), ttl, keep_gps, heavy, stand_in)

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


@functools.lru_cache(maxsize=_MEMO_SIZE)
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
