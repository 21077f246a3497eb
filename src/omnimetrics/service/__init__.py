"""The service: a Segment-compatible collector and the query API, over one Workspace."""

from omnimetrics.service.app import create_app

__all__ = ["create_app"]
