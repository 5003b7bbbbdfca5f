"""What the scheduler (monitor/scheduler.py) stands on, one concern per module.

`policy` decides when a source is polled next and holds the storage back-off; `resources` keeps each
worker thread's connection, the classifier and the shared fetcher; `inflight` counts the crawls queued
and running; `locks` keeps one scheduler per database and records which process owns a crawl run.
Import their names from monitor.scheduler.
"""
