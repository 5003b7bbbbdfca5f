-- Distributed crawl on PostgreSQL (issue 14 §2): who is alive, and each host's shared politeness state.
-- PostgreSQL only: on SQLite one `monitor run` crawls in-process and these live in its memory.

-- One row per scheduler (`monitor run`) and worker (`monitor worker`) process, beating every few seconds;
-- /health counts the fresh ones, and a crawl run whose owner stopped beating is closed as interrupted.
CREATE TABLE IF NOT EXISTS workers (
    id TEXT COLLATE "C" PRIMARY KEY,            -- "<hostname>:<pid>"
    kind TEXT COLLATE "C" NOT NULL,             -- 'scheduler' | 'worker'
    state TEXT COLLATE "C" NOT NULL,            -- scheduler: 'leader' | 'standby'; worker: 'running'
    started_at TEXT COLLATE "C" NOT NULL,       -- UTC ISO 8601, as every stored time
    last_beat TEXT COLLATE "C" NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'           -- JSON: concurrency, jobs done, ...
);
CREATE INDEX IF NOT EXISTS workers_kind_beat ON workers (kind, last_beat);

-- Per-host politeness shared by every worker on every machine: the earliest moment the next request may
-- start (host_delay after the previous start) and the Retry-After hold. Times are the server's clock
-- (clock_timestamp()), so machines with skewed clocks still keep the gap. Concurrency per host is not
-- a counter here but session advisory locks, one per (host, slot), which die with a killed process.
CREATE TABLE IF NOT EXISTS host_slots (
    host TEXT COLLATE "C" PRIMARY KEY,
    next_at TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    held_until TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    requests BIGINT NOT NULL DEFAULT 0
);
