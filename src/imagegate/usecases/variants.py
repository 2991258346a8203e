"""Named variants: an account's resize presets, some always public.

Every option a variant holds is checked by :mod:`imagegate.core.options` against the
operator's largest side, whoever sends it (the API or the dashboard). ``public`` exists in
every account and cannot be deleted; an account holds at most ``MAX_VARIANTS``. A change to a
variant drops every render made for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imagegate.core import ids
from imagegate.core.errors import BadRequest, Conflict, LimitReached, VariantNotFound
from imagegate.core.models import Account, Variant, VariantOptions
from imagegate.core.options import InvalidOptions, named_options, override
from imagegate.usecases.caches import Caches
from imagegate.usecases.ports import VariantStore
from imagegate.usecases.records import Change

MAX_VARIANTS = 100


class Variants:
    def __init__(self, variants: VariantStore, caches: Caches, *, max_side: int) -> None:
        self.store = variants
        self.caches = caches
        self.max_side = max_side

    def options(
        self, values: Mapping[str, Any], base: VariantOptions | None = None
    ) -> VariantOptions:
        """Options checked as a named variant holds them (``BadRequest`` if one is not)."""
        try:
            return named_options(values, self.max_side, base)
        except InvalidOptions as exc:
            raise BadRequest(str(exc)) from None

    def preview(self, account: Account, name: str, values: Mapping[str, str]) -> VariantOptions:
        """The options of variant ``name`` (the defaults if blank) with the non-blank
        ``values`` applied: what a variant would be if saved, for a preview."""
        base = self.get(account, name).options if name else VariantOptions()
        try:
            return override(base, values, self.max_side)
        except InvalidOptions as exc:
            raise BadRequest(str(exc)) from None

    def all(self, account: Account) -> list[Variant]:
        return self.store.all(account.id)

    def get(self, account: Account, name: str) -> Variant:
        variant = self.store.get(account.id, name)
        if variant is None:
            raise VariantNotFound()
        return variant

    def create(
        self, account: Account, name: str, options: Mapping[str, Any], never_require: bool
    ) -> Variant:
        """A new variant named ``name`` with ``options`` (as sent: checked here)."""
        if not ids.is_variant_name(name):
            raise BadRequest("Variant names are 1-99 letters and digits")
        variant = Variant(name, self.options(options), never_require)
        if len(self.store.all(account.id)) >= MAX_VARIANTS:
            raise LimitReached(f"An account has at most {MAX_VARIANTS} variants")
        try:
            self.store.create(account.id, variant)
        except Conflict:
            raise Conflict("A variant with this name already exists") from None
        return variant

    def update(
        self,
        account: Account,
        name: str,
        options: Mapping[str, Any],
        never_require: bool | None,
        *,
        keep_others: bool = False,
    ) -> Variant:
        """Replace the options of ``name`` (as sent: checked here); with ``keep_others``,
        options not sent keep their value. ``never_require`` None leaves that flag alone."""
        base = self.get(account, name).options if keep_others else None
        checked = self.options(options, base)
        with self.caches.changing(Change.variant(account.id, name)):
            variant = self.store.update(account.id, name, checked, never_require)
        if variant is None:
            raise VariantNotFound()
        return variant

    def delete(self, account: Account, name: str) -> None:
        if name == "public":
            raise BadRequest("The public variant cannot be deleted")
        with self.caches.changing(Change.variant(account.id, name)):
            deleted = self.store.delete(account.id, name)
        if not deleted:
            raise VariantNotFound()
