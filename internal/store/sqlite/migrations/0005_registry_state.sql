-- The manifests an image index lists, in its order, with the platform the
-- index gives each: a manifest an index needs is not deleted, and an index
-- is shown and judged by its images.
CREATE TABLE image_children (
    repository   TEXT NOT NULL,
    index_digest TEXT NOT NULL,
    position     INTEGER NOT NULL,
    child_digest TEXT NOT NULL,
    platform     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repository, index_digest, position)
);
CREATE INDEX image_children_child ON image_children (repository, child_digest);

-- Tags and digests deleted from the registry (until pushed again), so that
-- the gate can say a reference was deleted rather than never pushed.
CREATE TABLE deletions (
    repository TEXT NOT NULL,
    ref        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    PRIMARY KEY (repository, ref)
);
