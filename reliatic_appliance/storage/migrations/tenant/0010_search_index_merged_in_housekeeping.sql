-- The `search` index (0005) stops merging its segments inside each write (issue 16).
-- FTS5 adds a segment at every commit that indexes a row and, with its default
-- 'automerge', merges segments there and then: a one-asset write cost 908 us of CPU against
-- 787 us without, and after a burst or an import each write paid for merging the backlog
-- (1.4 ms against 1.0 ms; bench/commit_cost.py). With 'automerge' off
-- the scheduler's housekeeping merges them instead, each minute, in steps between the
-- requests' writes (services/assets.py `tidy_search_index`); meanwhile FTS5's own
-- 'crisismerge' (16 segments on one level) still bounds what a search reads.
INSERT INTO asset_search (asset_search, rank) VALUES ('automerge', 0);
