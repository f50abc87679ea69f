-- The user's documents and the passages (chunks) they are cut into. Chunks
-- are searched like memories and messages: full text over analyzed terms with
-- the owner as an indexed token, and vectors (chunk_vectors / chunk_floats,
-- created with the other vector tables). Ids are never reused (AUTOINCREMENT):
-- a citation kept from an old answer cannot point at a newer passage.
CREATE TABLE documents (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title           TEXT NOT NULL,
    source          TEXT NOT NULL,
    format          TEXT NOT NULL CHECK (format IN ('text', 'markdown', 'html', 'pdf')),
    content_hash    TEXT NOT NULL,
    bytes           INTEGER NOT NULL,
    pages           INTEGER,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX documents_by_source ON documents(user_id, source);

CREATE TABLE chunks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    document_id     INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal         INTEGER NOT NULL,
    text            TEXT NOT NULL,
    page            INTEGER,
    heading         TEXT,
    start_offset    INTEGER NOT NULL,
    end_offset      INTEGER NOT NULL,
    embedded        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX chunks_by_document ON chunks(user_id, document_id, ordinal);
CREATE INDEX chunks_to_embed ON chunks(user_id, embedded) WHERE embedded = 0;

CREATE VIRTUAL TABLE chunks_fts USING fts5(terms, owner, user_id UNINDEXED, document_id UNINDEXED, tokenize = 'unicode61');
CREATE VIRTUAL TABLE chunks_fts_vocab USING fts5vocab(chunks_fts, col);
