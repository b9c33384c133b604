-- The event bus (rules, the dispatch cursor, deliveries) and the
-- deployment gate (policies, requests, decisions). Times are Unix
-- milliseconds (0 for none); JSON payloads are kept as the exact bytes
-- written.

CREATE TABLE event_rules (
    name          TEXT PRIMARY KEY,
    description   TEXT NOT NULL,
    event_pattern BLOB NOT NULL,
    state         TEXT NOT NULL,
    targets       BLOB NOT NULL,
    managed_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- One row: the sequence number of the last event dispatched. A database
-- that had events before the bus existed starts after them, so that
-- history is not delivered to rules created later.
CREATE TABLE dispatch_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO dispatch_cursor (id, seq) VALUES (1, COALESCE((SELECT MAX(seq) FROM events), 0));

-- Deliveries name their event by id and sequence number; they do not
-- reference events, so that events can be pruned without them.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL,
    event_seq       INTEGER NOT NULL,
    rule            TEXT NOT NULL,
    target          TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    window_start    INTEGER NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    last_status     INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    delivered_at    INTEGER NOT NULL DEFAULT 0,
    owner           TEXT NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0
);
-- Claiming: due pending deliveries, oldest first.
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at, id);
-- Listing by state (the dead-letter list), newest first.
CREATE INDEX deliveries_state ON deliveries (state, id);
CREATE INDEX deliveries_event ON deliveries (event_id, id);
-- Listing and redriving one rule's deliveries.
CREATE INDEX deliveries_rule ON deliveries (rule, state, id);

CREATE TABLE gate_policies (
    name       TEXT PRIMARY KEY,
    -- At most one policy per repository selector.
    repository TEXT NOT NULL UNIQUE,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE gate_requests (
    id           TEXT PRIMARY KEY,
    token        TEXT NOT NULL,
    repository   TEXT NOT NULL,
    digest       TEXT NOT NULL,
    tag          TEXT NOT NULL,
    new_push     INTEGER NOT NULL,
    pipeline     TEXT NOT NULL,
    stage        TEXT NOT NULL,
    action       TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    state        TEXT NOT NULL,
    decision     TEXT NOT NULL,
    decision_id  TEXT NOT NULL,
    deadline     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE INDEX gate_requests_created ON gate_requests (created_at, id);
CREATE INDEX gate_requests_image ON gate_requests (repository, digest, created_at, id);
CREATE INDEX gate_requests_tag ON gate_requests (repository, tag, created_at, id);
CREATE INDEX gate_requests_deadline ON gate_requests (state, deadline);

-- Every decision on a request is kept; images come and go, so decisions
-- do not reference them.
CREATE TABLE gate_decisions (
    id         TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES gate_requests (id),
    repository TEXT NOT NULL,
    digest     TEXT NOT NULL,
    decision   TEXT NOT NULL,
    policy     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    cause      TEXT NOT NULL,
    findings   BLOB NOT NULL,
    counts     BLOB NOT NULL,
    supersedes TEXT NOT NULL,
    decided_at INTEGER NOT NULL
);
CREATE INDEX gate_decisions_decided ON gate_decisions (decided_at, id);
CREATE INDEX gate_decisions_request ON gate_decisions (request_id, decided_at, id);
CREATE INDEX gate_decisions_image ON gate_decisions (repository, digest, decided_at, id);
