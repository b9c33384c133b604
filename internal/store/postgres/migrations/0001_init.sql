-- Vigil's schema. Times are Unix milliseconds (0 for none); JSON payloads
-- are kept as the exact bytes written.

CREATE TABLE repositories (
    name            TEXT COLLATE "C" PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    rescan_duration TEXT COLLATE "C" NOT NULL DEFAULT 'LIFETIME',
    rescan_basis    TEXT COLLATE "C" NOT NULL DEFAULT 'PUSH'
);

CREATE TABLE images (
    repository     TEXT COLLATE "C" NOT NULL REFERENCES repositories (name),
    digest         TEXT COLLATE "C" NOT NULL,
    media_type     TEXT COLLATE "C" NOT NULL DEFAULT '',
    artifact_type  TEXT COLLATE "C" NOT NULL DEFAULT '',
    config_digest  TEXT COLLATE "C" NOT NULL DEFAULT '',
    size           BIGINT NOT NULL DEFAULT 0,
    platform       TEXT COLLATE "C" NOT NULL DEFAULT '',
    pushed_at      BIGINT NOT NULL,
    last_pulled_at BIGINT NOT NULL DEFAULT 0,
    scan_status    TEXT COLLATE "C" NOT NULL,
    scan_reason    TEXT COLLATE "C" NOT NULL DEFAULT '',
    scan_message   TEXT COLLATE "C" NOT NULL DEFAULT '',
    scanned_at     BIGINT NOT NULL DEFAULT 0,
    distro         TEXT COLLATE "C" NOT NULL DEFAULT '',
    inventory_hash TEXT COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (repository, digest)
);
CREATE INDEX images_pushed ON images (pushed_at, repository, digest);

-- A tag names one image per repository; pushing the tag again moves it.
CREATE TABLE tags (
    repository TEXT COLLATE "C" NOT NULL,
    tag        TEXT COLLATE "C" NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository, tag),
    FOREIGN KEY (repository, digest) REFERENCES images (repository, digest) ON DELETE CASCADE
);
CREATE INDEX tags_image ON tags (repository, digest);

CREATE TABLE jobs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT COLLATE "C" NOT NULL,
    repository  TEXT COLLATE "C" NOT NULL,
    digest      TEXT COLLATE "C" NOT NULL,
    state       TEXT COLLATE "C" NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    owner       TEXT COLLATE "C" NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    failure     TEXT COLLATE "C" NOT NULL DEFAULT ''
);
-- At most one queued job per kind and image: EnqueueJob de-duplicates on it.
CREATE UNIQUE INDEX jobs_queued ON jobs (kind, repository, digest) WHERE state = 'queued';
CREATE INDEX jobs_state ON jobs (state, id);

CREATE TABLE layers (
    key        TEXT COLLATE "C" PRIMARY KEY,
    data       BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE inventories (
    hash TEXT COLLATE "C" PRIMARY KEY,
    data BYTEA NOT NULL
);

-- Findings outlive their image (a deleted image's findings stay, CLOSED),
-- so they do not reference images.
CREATE TABLE findings (
    id                TEXT COLLATE "C" PRIMARY KEY,
    repository        TEXT COLLATE "C" NOT NULL,
    image_digest      TEXT COLLATE "C" NOT NULL,
    vulnerability_id  TEXT COLLATE "C" NOT NULL,
    title             TEXT COLLATE "C" NOT NULL,
    severity          TEXT COLLATE "C" NOT NULL,
    severity_rank     BIGINT NOT NULL,
    status            TEXT COLLATE "C" NOT NULL,
    score             DOUBLE PRECISION,
    fix_available     TEXT COLLATE "C" NOT NULL,
    exploit_available TEXT COLLATE "C" NOT NULL,
    epss              DOUBLE PRECISION,
    package_name      TEXT COLLATE "C" NOT NULL,
    package_version   TEXT COLLATE "C" NOT NULL,
    package_manager   TEXT COLLATE "C" NOT NULL,
    file_path         TEXT COLLATE "C" NOT NULL,
    layer_diff_id     TEXT COLLATE "C" NOT NULL,
    suppressed_by     TEXT COLLATE "C" NOT NULL,
    first_observed_at BIGINT NOT NULL,
    last_observed_at  BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    data              BYTEA NOT NULL
);
-- One image's findings (UpdateFindings, counts); repository filters.
CREATE INDEX findings_image ON findings (repository, image_digest, status, severity);
-- Listing by severity, of one status or of all.
CREATE INDEX findings_status_rank ON findings (status, severity_rank, id);
CREATE INDEX findings_rank ON findings (severity_rank, id);
CREATE INDEX findings_vuln ON findings (vulnerability_id);
CREATE INDEX findings_package ON findings (package_name);

CREATE TABLE rules (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    action      TEXT COLLATE "C" NOT NULL,
    reason      TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C" NOT NULL,
    filter      BYTEA NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT COLLATE "C" NOT NULL
);

-- Identity columns never reuse a number.
CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    at          BIGINT NOT NULL,
    source      TEXT COLLATE "C" NOT NULL,
    detail_type TEXT COLLATE "C" NOT NULL,
    envelope    BYTEA NOT NULL
);
CREATE INDEX events_type ON events (detail_type, seq);

CREATE TABLE tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT COLLATE "C" NOT NULL UNIQUE,
    role         TEXT COLLATE "C" NOT NULL,
    hash         TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);
