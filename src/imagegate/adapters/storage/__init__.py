"""Blob stores: the local filesystem (default) and S3-compatible services."""
