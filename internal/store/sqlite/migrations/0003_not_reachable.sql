-- Why a finding's vulnerable code is not reachable in its image (for a Go
-- binary: none of the vulnerable functions is compiled in, or the flaw is
-- for another platform); empty when it is reachable or nobody knows.
ALTER TABLE findings ADD COLUMN not_reachable TEXT NOT NULL DEFAULT '';
