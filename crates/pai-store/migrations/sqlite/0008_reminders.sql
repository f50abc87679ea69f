-- Reminders and their firings. A due reminder is claimed with a lease
-- (lease_owner/lease_until) and completed in one transaction that inserts the
-- notification and moves next_at; UNIQUE (reminder_id, due_at) makes a second
-- completion of the same occurrence fail instead of notifying twice.
CREATE TABLE reminders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    text            TEXT NOT NULL,
    phrase          TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    rule            TEXT,
    start_local     TEXT,
    next_at         TEXT,
    state           TEXT NOT NULL CHECK (state IN ('scheduled', 'done', 'cancelled')),
    fired           INTEGER NOT NULL DEFAULT 0,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
    lease_owner     TEXT,
    lease_until     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX reminders_due ON reminders(next_at) WHERE state = 'scheduled';
CREATE INDEX reminders_by_user ON reminders(user_id, id);

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    reminder_id     INTEGER REFERENCES reminders(id) ON DELETE SET NULL,
    text            TEXT NOT NULL,
    due_at          TEXT NOT NULL,
    fired_at        TEXT NOT NULL,
    late            INTEGER NOT NULL,
    read_at         TEXT,
    UNIQUE (reminder_id, due_at)
);
CREATE INDEX notifications_by_user ON notifications(user_id, id);
