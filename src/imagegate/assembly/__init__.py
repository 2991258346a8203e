"""The one place that builds imagegate from its :class:`~imagegate.settings.Settings`: the
stores, the image processor, the caches and the use cases, handed out as one
:class:`Imagegate` with an object per area. The web app, the CLI and the tests build through
:func:`build`; nothing else imports an adapter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from imagegate.adapters import imaging
from imagegate.adapters.fetch import Fetcher, FetchPolicy
from imagegate.adapters.keyseal import KeySeal
from imagegate.adapters.metadata import SqlMetadata
from imagegate.adapters.metadata.changes import LocalChangeFeed, PgChangeFeed
from imagegate.adapters.metrics_share import DirectoryShare, SoloShare
from imagegate.adapters.storage import open_blob_store, open_shared_variants
from imagegate.adapters.storage.variant_cache import LocalVariantCache
from imagegate.core.errors import UnsafeConfiguration
from imagegate.core.signing import Policy
from imagegate.settings import Settings
from imagegate.usecases.accounts import Accounts
from imagegate.usecases.caches import Caches
from imagegate.usecases.clock import Clock
from imagegate.usecases.delivery import Delivery
from imagegate.usecases.direct_uploads import DirectUploads
from imagegate.usecases.health import Health
from imagegate.usecases.images import Images
from imagegate.usecases.keys import Keys
from imagegate.usecases.levels import Levels
from imagegate.usecases.maintenance import GarbageCollector
from imagegate.usecases.observer import Observer
from imagegate.usecases.offload import Offload
from imagegate.usecases.planning import Planner
from imagegate.usecases.ports import ChangeFeed, MetricsShare, SchemaStore
from imagegate.usecases.sessions import Sessions
from imagegate.usecases.shared_tier import SharedTier
from imagegate.usecases.tokens import Tokens
from imagegate.usecases.variants import Variants


@dataclass(frozen=True, slots=True)
class Imagegate:
    """Everything imagegate does, one object per area, over one set of stores and caches."""

    settings: Settings
    accounts: Accounts
    tokens: Tokens
    keys: Keys
    variants: Variants
    images: Images
    uploads: DirectUploads
    sessions: Sessions
    delivery: Delivery
    gc: GarbageCollector
    health: Health
    observer: Observer
    offload: Offload
    schema: SchemaStore
    clock: Clock
    caches: Caches
    changes: ChangeFeed
    metrics_share: MetricsShare
    levels: Levels | None = None  # reduced copies of the originals (IMAGEGATE_LEVELS_QUEUE)

    def migrate(self) -> None:
        """Create or upgrade the database's schema (idempotent; one process at a time)."""
        self.schema.migrate()

    def follow_changes(self) -> None:
        """Listen for the changes other processes make (a server does; commands need not)."""
        self.caches.listen()

    def close(self) -> None:
        if self.levels is not None:
            self.levels.close()
        self.changes.close()
        self.schema.close()


def build(settings: Settings, clock: Clock = time.time) -> Imagegate:
    """Build imagegate from ``settings``; nothing is connected or written until used."""
    database_url = settings.resolved_database_url()
    store = SqlMetadata.open(database_url)
    changes: ChangeFeed = (
        PgChangeFeed(store.database, database_url)
        if store.database.dialect == "postgresql"
        else LocalChangeFeed()
    )
    blobs = open_blob_store(settings.resolved_blob_url())
    processor = imaging.Processor(
        imaging.Limits(
            max_side=settings.max_image_side,
            max_pixels=settings.max_image_pixels,
            max_output_pixels=settings.max_output_pixels,
            render_seconds=settings.render_timeout,
        )
    )
    master = settings.master_key.get_secret_value() if settings.master_key else None
    sealer = KeySeal(master)
    shared_store = open_shared_variants(blobs) if settings.shared_variants else None
    caches = Caches(
        LocalVariantCache(settings.data_dir / "variants", settings.variant_cache_bytes),
        memory_bytes=settings.memory_cache_bytes,
        context_ttl=settings.metadata_cache_ttl,
        feed=changes,
        notified_ttl=settings.metadata_cache_ttl_notified,
        shared=SharedTier(shared_store) if shared_store is not None else None,
    )
    observer = Observer(
        memory_size=lambda: caches.memory.size,
        copies_pending=lambda: levels.pending if levels is not None else 0,
    )
    offload = Offload(
        io_threads=max(8, settings.render_concurrency * 4),
        render_slots=settings.render_concurrency,
        render_queue=settings.render_queue,
    )
    levels = (
        Levels(
            blobs,
            processor,
            queue_size=settings.levels_queue,
            busy=lambda: offload.render_pending > 0,
        )
        if settings.levels_queue > 0
        else None
    )
    side = settings.max_image_side
    tokens = Tokens(store.tokens, store.accounts, clock)
    keys = Keys(
        store.keys,
        sealer,
        caches,
        clock,
        accounts=store.accounts,
        images=store.images,
        variants=store.variants,
    )
    images = Images(
        store.images,
        blobs,
        processor,
        Fetcher(fetch_policy(settings)),
        caches,
        observer,
        clock,
        max_upload_bytes=settings.max_upload_bytes,
        levels=levels,
    )
    delivery = Delivery(
        store.delivery,
        store.keys,
        sealer,
        blobs,
        processor,
        caches,
        observer,
        offload,
        Planner(
            avif_max_side=settings.avif_max_side,
            max_output_pixels=settings.max_output_pixels,
            heavy_pixels=settings.heavy_render_pixels,
            avif_stand_in_ttl=_avif_stand_in_ttl(settings, caches),
        ),
        policy=Policy(
            clock_skew=settings.clock_skew,
            allow_no_expiry=settings.allow_non_expiring,
            max_lifetime=settings.max_url_lifetime,
        ),
        max_side=side,
        clock=clock,
        levels=levels,
    )
    return Imagegate(
        settings=settings,
        accounts=Accounts(
            store.accounts,
            store.variants,
            keys,
            tokens,
            caches,
            clock,
            default_quota=settings.default_image_quota,
            max_side=side,
        ),
        tokens=tokens,
        keys=keys,
        variants=Variants(store.variants, caches, max_side=side),
        images=images,
        uploads=DirectUploads(images, store.images, caches, clock),
        sessions=Sessions(store.sessions, tokens, store.accounts, clock),
        delivery=delivery,
        gc=GarbageCollector(store.images, store.accounts, blobs, clock, shared=caches.shared),
        health=Health(store.database, blobs),
        observer=observer,
        offload=offload,
        schema=store.database,
        clock=clock,
        caches=caches,
        changes=changes,
        levels=levels,
        metrics_share=(
            DirectoryShare(settings.metrics_dir)
            if settings.metrics_dir is not None
            else SoloShare()
        ),
    )


def _avif_stand_in_ttl(settings: Settings, caches: Caches) -> int | None:
    """The stand-in's max-age, or None (no stand-in): off, or no cache would keep the AVIF
    encoded in the background, so every request would get the stand-in."""
    keeps = settings.memory_cache_bytes or settings.variant_cache_bytes or caches.shared
    return settings.avif_fallback_max_age if settings.avif_fallback and keeps else None


def check_safety(settings: Settings) -> None:
    """Refuse a configuration that would let private images leak, unless acknowledged."""
    reasons = settings.unsafe_reasons()
    if reasons and not settings.allow_unsafe_config:
        raise UnsafeConfiguration(
            "refusing to start: "
            + "; ".join(reasons)
            + " (IMAGEGATE_ALLOW_UNSAFE_CONFIG=true starts anyway)"
        )


def fetch_policy(settings: Settings) -> FetchPolicy:
    """The upload-by-URL policy; a malformed entry is a configuration error at start."""

    def csv(value: str) -> list[str]:
        return [item.strip() for item in value.split(",") if item.strip()]

    return FetchPolicy(
        allowed_ports=frozenset(int(p) for p in csv(settings.fetch_allowed_ports)),
        allowlist=tuple(csv(settings.fetch_allowlist)),
        max_bytes=settings.max_upload_bytes,
        total_timeout=settings.fetch_timeout,
        connect_timeout=min(5.0, settings.fetch_timeout),
    )


__all__ = ["Imagegate", "build", "check_safety", "fetch_policy"]
