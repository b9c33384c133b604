-- Vigil's schema. Times are Unix milliseconds (0 for none); JSON payloads
-- are kept as the exact bytes written.

CREATE TABLE repositories (
    name            TEXT PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    rescan_duration TEXT NOT NULL DEFAULT 'LIFETIME',
    rescan_basis    TEXT NOT NULL DEFAULT 'PUSH'
);

CREATE TABLE images (
    repository     TEXT NOT NULL REFERENCES repositories (name),
    digest         TEXT NOT NULL,
    media_type     TEXT NOT NULL DEFAULT '',
    artifact_type  TEXT NOT NULL DEFAULT '',
    config_digest  TEXT NOT NULL DEFAULT '',
    size           INTEGER NOT NULL DEFAULT 0,
    platform       TEXT NOT NULL DEFAULT '',
    pushed_at      INTEGER NOT NULL,
    last_pulled_at INTEGER NOT NULL DEFAULT 0,
    scan_status    TEXT NOT NULL,
    scan_reason    TEXT NOT NULL DEFAULT '',
    scan_message   TEXT NOT NULL DEFAULT '',
    scanned_at     INTEGER NOT NULL DEFAULT 0,
    distro         TEXT NOT NULL DEFAULT '',
    inventory_hash TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repository, digest)
);
CREATE INDEX images_pushed ON images (pushed_at, repository, digest);

-- A tag names one image per repository; pushing the tag again moves it.
CREATE TABLE tags (
    repository TEXT NOT NULL,
    tag        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    PRIMARY KEY (repository, tag),
    FOREIGN KEY (repository, digest) REFERENCES images (repository, digest) ON DELETE CASCADE
);
CREATE INDEX tags_image ON tags (repository, digest);

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    repository  TEXT NOT NULL,
    digest      TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    owner       TEXT NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    failure     TEXT NOT NULL DEFAULT ''
);
-- At most one queued job per kind and image: EnqueueJob de-duplicates on it.
CREATE UNIQUE INDEX jobs_queued ON jobs (kind, repository, digest) WHERE state = 'queued';
CREATE INDEX jobs_state ON jobs (state, id);

CREATE TABLE layers (
    key        TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE inventories (
    hash TEXT PRIMARY KEY,
    data BLOB NOT NULL
);

-- Findings outlive their image (a deleted image's findings stay, CLOSED),
-- so they do not reference images.
CREATE TABLE findings (
    id                TEXT PRIMARY KEY,
    repository        TEXT NOT NULL,
    image_digest      TEXT NOT NULL,
    vulnerability_id  TEXT NOT NULL,
    title             TEXT NOT NULL,
    severity          TEXT NOT NULL,
    severity_rank     INTEGER NOT NULL,
    status            TEXT NOT NULL,
    score             REAL,
    fix_available     TEXT NOT NULL,
    exploit_available TEXT NOT NULL,
    epss              REAL,
    package_name      TEXT NOT NULL,
    package_version   TEXT NOT NULL,
    package_manager   TEXT NOT NULL,
    file_path         TEXT NOT NULL,
    layer_diff_id     TEXT NOT NULL,
    suppressed_by     TEXT NOT NULL,
    first_observed_at INTEGER NOT NULL,
    last_observed_at  INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    data              BLOB NOT NULL
);
-- One image's findings (UpdateFindings, counts); repository filters.
CREATE INDEX findings_image ON findings (repository, image_digest, status, severity);
-- Listing by severity, of one status or of all.
CREATE INDEX findings_status_rank ON findings (status, severity_rank, id);
CREATE INDEX findings_rank ON findings (severity_rank, id);
CREATE INDEX findings_vuln ON findings (vulnerability_id);
CREATE INDEX findings_package ON findings (package_name);

CREATE TABLE rules (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    description TEXT NOT NULL,
    filter      BLOB NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL
);

-- AUTOINCREMENT: a sequence number is never reused, even after pruning.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    at          INTEGER NOT NULL,
    source      TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    envelope    BLOB NOT NULL
);
CREATE INDEX events_type ON events (detail_type, seq);

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
