"""The management API: Cloudflare's Images API paths, fields and envelope."""
