-- The vulnerability database version (vulndb.MakeVersion) an image's
-- findings were last matched with, and, for each gate decision, the one
-- it was made with and the approved image whose findings it left out
-- (a policy's newFindingsOnly); empty when unknown or none.
ALTER TABLE images ADD COLUMN db_version TEXT NOT NULL DEFAULT '';
ALTER TABLE gate_decisions ADD COLUMN db_version TEXT NOT NULL DEFAULT '';
ALTER TABLE gate_decisions ADD COLUMN baseline_digest TEXT NOT NULL DEFAULT '';
