-- A repository's imageTagMutability (ECR's), with its exclusion filters as
-- the JSON array ECR's API takes. A repository without a row is MUTABLE.
-- Keyed by name alone, so that a repository can be made immutable before
-- its first push.
CREATE TABLE repository_tag_mutability (
    repository TEXT NOT NULL PRIMARY KEY,
    mutability TEXT NOT NULL,
    filters    TEXT NOT NULL DEFAULT '[]'
);
