"""Crawling, pipeline, scheduler, reports and the `monitor` CLI."""

__version__ = "0.1.0"
