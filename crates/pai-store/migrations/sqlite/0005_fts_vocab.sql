-- Document counts per term and column, read to leave very common terms out of
-- a large user's searches (see sqlite/mod.rs, search_terms_for).
CREATE VIRTUAL TABLE messages_fts_vocab USING fts5vocab(messages_fts, col);
CREATE VIRTUAL TABLE memories_fts_vocab USING fts5vocab(memories_fts, col);
