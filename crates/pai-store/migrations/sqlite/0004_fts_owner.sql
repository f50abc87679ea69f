-- Full-text rows carry their owner as an indexed token ("u42"), so a search
-- intersects with the user's own rows inside FTS5 instead of matching every
-- user's rows and filtering afterwards (the user_id column stays, for the SQL
-- filter every query keeps).
CREATE VIRTUAL TABLE memories_fts_new USING fts5(terms, owner, user_id UNINDEXED, tokenize = 'unicode61');
INSERT INTO memories_fts_new (rowid, terms, owner, user_id) SELECT rowid, terms, 'u' || user_id, user_id FROM memories_fts;
DROP TABLE memories_fts;
ALTER TABLE memories_fts_new RENAME TO memories_fts;

CREATE VIRTUAL TABLE memory_history_fts_new USING fts5(terms, owner, user_id UNINDEXED, tokenize = 'unicode61');
INSERT INTO memory_history_fts_new (rowid, terms, owner, user_id) SELECT rowid, terms, 'u' || user_id, user_id FROM memory_history_fts;
DROP TABLE memory_history_fts;
ALTER TABLE memory_history_fts_new RENAME TO memory_history_fts;

CREATE VIRTUAL TABLE messages_fts_new USING fts5(terms, owner, user_id UNINDEXED, conversation_id UNINDEXED, tokenize = 'unicode61');
INSERT INTO messages_fts_new (rowid, terms, owner, user_id, conversation_id)
    SELECT rowid, terms, 'u' || user_id, user_id, conversation_id FROM messages_fts;
DROP TABLE messages_fts;
ALTER TABLE messages_fts_new RENAME TO messages_fts;
