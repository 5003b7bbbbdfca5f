"""The unattended service's clock: what runs when, and what it stands on, one concern per module.

- `scheduler`: the job lifecycle (one APScheduler job per source, heartbeat, reload, housekeeping).
- `policy`: when a source is polled next, and the storage back-off.
- `resources`: each worker thread's connection, the classifier and the shared fetcher.
- `inflight`: the crawls queued and running.
- `locks`: one scheduler per database, and which process owns a crawl run.
- `housekeeping`: the daily and weekly jobs (retention, backups, the weekly report).
- `retrain`: the weekly look at moderator decisions that may propose a retrained model.

Import each name from the module that defines it.
"""
