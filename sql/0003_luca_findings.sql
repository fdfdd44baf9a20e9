-- What the tool has learnt about the Luca tenant where the reference is silent
-- (`doctor --probe`, or noticed during a pass): one row per fact, the latest wins.
CREATE TABLE luca_findings (
    key        TEXT PRIMARY KEY,   -- e.g. 'sessions_per_user', 'wrapper:ListeleStkSkart.do'
    value      TEXT NOT NULL,
    source     TEXT NOT NULL,      -- 'probe' | 'pass'
    found_at   TEXT NOT NULL
);
