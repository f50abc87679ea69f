-- Which rows have an embedding in the vec0 tables (created at open, sized by
-- the embedder's dimension; see sqlite/vectors.rs).
ALTER TABLE memories ADD COLUMN embedded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN embedded INTEGER NOT NULL DEFAULT 0;
CREATE INDEX memories_to_embed ON memories(user_id, embedded) WHERE embedded = 0;
CREATE INDEX messages_to_embed ON messages(user_id, embedded) WHERE embedded = 0;
CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
