"""The dashboard at ``/dashboard``: server-rendered pages (Jinja2) and a little plain
JavaScript, all served by imagegate itself. See ``docs/dashboard.md``."""

from imagegate.web.dashboard.routes import create_dashboard

__all__ = ["create_dashboard"]
