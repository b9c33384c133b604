-- What each image's last scan could assess (package coverage: the
-- releases and ecosystems the database held advisories for, the wanted
-- files not read), and the per-file warnings of its analysis, as JSON.
-- They go with their image.
CREATE TABLE image_coverage (
    repository TEXT COLLATE "C" NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    reason     TEXT NOT NULL,
    coverage   BYTEA NOT NULL,
    warnings   BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repository, digest),
    FOREIGN KEY (repository, digest) REFERENCES images (repository, digest) ON DELETE CASCADE
);
