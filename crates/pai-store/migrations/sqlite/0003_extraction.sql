-- Superseded memories leave memories_fts but stay searchable here, for
-- questions about the past ("where did I live before?").
CREATE VIRTUAL TABLE memory_history_fts USING fts5(terms, user_id UNINDEXED, tokenize = 'unicode61');

-- Memory extraction queued after each exchange or import; a job is never
-- dropped: it ends done or failed (with its error), and failed ones can be retried.
CREATE TABLE extraction_jobs (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX extraction_jobs_queue ON extraction_jobs(state, id);
CREATE INDEX extraction_jobs_by_user ON extraction_jobs(user_id, id);

CREATE TABLE extraction_job_messages (
    job_id      INTEGER NOT NULL REFERENCES extraction_jobs(id) ON DELETE CASCADE,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, message_id)
);

-- Every decision taken about a memory: the audit trail behind "where did this
-- come from". Rows about a memory go when the memory is deleted (privacy).
CREATE TABLE memory_decisions (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    job_id      INTEGER REFERENCES extraction_jobs(id) ON DELETE SET NULL,
    action      TEXT NOT NULL CHECK (action IN ('add', 'update', 'supersede', 'delete', 'noop')),
    candidate   TEXT NOT NULL,
    memory_id   INTEGER,
    target_id   INTEGER,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX memory_decisions_by_user ON memory_decisions(user_id, id);
CREATE INDEX memory_decisions_by_memory ON memory_decisions(user_id, memory_id);
CREATE INDEX memory_decisions_by_target ON memory_decisions(user_id, target_id);

CREATE TABLE conversation_summaries (
    conversation_id     INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    user_id             INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    summary             TEXT NOT NULL,
    through_message_id  INTEGER NOT NULL,
    updated_at          TEXT NOT NULL
);

-- A memory's history: the ones it replaced.
CREATE INDEX memories_by_successor ON memories(user_id, superseded_by) WHERE superseded_by IS NOT NULL;

-- Imports skip conversations already imported, found by a message's external id.
CREATE INDEX messages_by_user_external_id ON messages(user_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_by_name ON users(name);
