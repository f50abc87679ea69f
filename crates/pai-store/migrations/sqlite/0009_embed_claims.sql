-- Items an indexer has taken to embed, until when: another indexer (a second
-- process on the same file) passes them over until then.
ALTER TABLE memories ADD COLUMN embed_claimed_until TEXT;
ALTER TABLE messages ADD COLUMN embed_claimed_until TEXT;
ALTER TABLE chunks ADD COLUMN embed_claimed_until TEXT;
