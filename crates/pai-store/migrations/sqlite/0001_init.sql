-- Users and everything they own. Every table that holds user data carries
-- user_id, so each query can filter by owner without a join.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX conversations_by_user ON conversations(user_id, id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    speaker         TEXT,
    content         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    external_id     TEXT
);
CREATE INDEX messages_by_conversation ON messages(user_id, conversation_id, id);
CREATE UNIQUE INDEX messages_by_external_id ON messages(user_id, conversation_id, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE memories (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    text            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('fact', 'preference', 'event', 'instruction')),
    subject         TEXT,
    importance      REAL NOT NULL CHECK (importance BETWEEN 0 AND 1),
    valid_from      TEXT,
    valid_to        TEXT,
    superseded_by   INTEGER REFERENCES memories(id) ON DELETE SET NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX memories_by_user ON memories(user_id, valid_to, id);

CREATE TABLE memory_sources (
    memory_id   INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    PRIMARY KEY (memory_id, message_id)
);

-- Full text over the analyzed form (pai_core::analyzer): space-separated
-- terms, CJK already split into bigrams. Current memories only.
CREATE VIRTUAL TABLE memories_fts USING fts5(terms, user_id UNINDEXED, tokenize = 'unicode61');
CREATE VIRTUAL TABLE messages_fts USING fts5(terms, user_id UNINDEXED, conversation_id UNINDEXED, tokenize = 'unicode61');
