"""HTTP adapters: the management API, the delivery hot path, and the app that joins them."""

from imagegate.web.app import create_app

__all__ = ["create_app"]
