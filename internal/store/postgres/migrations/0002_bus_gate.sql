-- The event bus (rules, the dispatch cursor, deliveries) and the
-- deployment gate (policies, requests, decisions). Times are Unix
-- milliseconds (0 for none); JSON payloads are kept as the exact bytes
-- written.

CREATE TABLE event_rules (
    name          TEXT COLLATE "C" PRIMARY KEY,
    description   TEXT COLLATE "C" NOT NULL,
    event_pattern BYTEA NOT NULL,
    state         TEXT COLLATE "C" NOT NULL,
    targets       BYTEA NOT NULL,
    managed_by    TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- One row: the sequence number of the last event dispatched. A database
-- that had events before the bus existed starts after them, so that
-- history is not delivered to rules created later.
CREATE TABLE dispatch_cursor (
    id  BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO dispatch_cursor (id, seq) VALUES (1, COALESCE((SELECT MAX(seq) FROM events), 0));

-- Deliveries name their event by id and sequence number; they do not
-- reference events, so that events can be pruned without them.
CREATE TABLE deliveries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        TEXT COLLATE "C" NOT NULL,
    event_seq       BIGINT NOT NULL,
    rule            TEXT COLLATE "C" NOT NULL,
    target          TEXT COLLATE "C" NOT NULL,
    state           TEXT COLLATE "C" NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    window_start    BIGINT NOT NULL,
    last_error      TEXT COLLATE "C" NOT NULL DEFAULT '',
    last_status     BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    delivered_at    BIGINT NOT NULL DEFAULT 0,
    owner           TEXT COLLATE "C" NOT NULL DEFAULT '',
    lease_until     BIGINT NOT NULL DEFAULT 0
);
-- Claiming: due pending deliveries, oldest first.
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at, id);
-- Listing by state (the dead-letter list), newest first.
CREATE INDEX deliveries_state ON deliveries (state, id);
CREATE INDEX deliveries_event ON deliveries (event_id, id);
-- Listing and redriving one rule's deliveries.
CREATE INDEX deliveries_rule ON deliveries (rule, state, id);

CREATE TABLE gate_policies (
    name       TEXT COLLATE "C" PRIMARY KEY,
    -- At most one policy per repository selector.
    repository TEXT COLLATE "C" NOT NULL UNIQUE,
    data       BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE gate_requests (
    id           TEXT COLLATE "C" PRIMARY KEY,
    token        TEXT COLLATE "C" NOT NULL,
    repository   TEXT COLLATE "C" NOT NULL,
    digest       TEXT COLLATE "C" NOT NULL,
    tag          TEXT COLLATE "C" NOT NULL,
    new_push     BIGINT NOT NULL,
    pipeline     TEXT COLLATE "C" NOT NULL,
    stage        TEXT COLLATE "C" NOT NULL,
    action       TEXT COLLATE "C" NOT NULL,
    callback_url TEXT COLLATE "C" NOT NULL,
    state        TEXT COLLATE "C" NOT NULL,
    decision     TEXT COLLATE "C" NOT NULL,
    decision_id  TEXT COLLATE "C" NOT NULL,
    deadline     BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    created_by   TEXT COLLATE "C" NOT NULL
);
CREATE INDEX gate_requests_created ON gate_requests (created_at, id);
CREATE INDEX gate_requests_image ON gate_requests (repository, digest, created_at, id);
CREATE INDEX gate_requests_tag ON gate_requests (repository, tag, created_at, id);
CREATE INDEX gate_requests_deadline ON gate_requests (state, deadline);

-- Every decision on a request is kept; images come and go, so decisions
-- do not reference them.
CREATE TABLE gate_decisions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    request_id TEXT COLLATE "C" NOT NULL REFERENCES gate_requests (id),
    repository TEXT COLLATE "C" NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    decision   TEXT COLLATE "C" NOT NULL,
    policy     TEXT COLLATE "C" NOT NULL,
    reason     TEXT COLLATE "C" NOT NULL,
    cause      TEXT COLLATE "C" NOT NULL,
    findings   BYTEA NOT NULL,
    counts     BYTEA NOT NULL,
    supersedes TEXT COLLATE "C" NOT NULL,
    decided_at BIGINT NOT NULL
);
CREATE INDEX gate_decisions_decided ON gate_decisions (decided_at, id);
CREATE INDEX gate_decisions_request ON gate_decisions (request_id, decided_at, id);
CREATE INDEX gate_decisions_image ON gate_decisions (repository, digest, decided_at, id);
