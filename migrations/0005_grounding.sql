-- 0005_grounding: CJK search for the knowledge base, and who to call when the bot cannot
-- answer.
--
--   * kb_entries.grams holds the character bigrams of the Chinese and Japanese text in an
--     entry's title and body ("运费说明" -> "运费 费说 说明"): unicode61 sees a run of CJK
--     characters as one token, so without them a question could only match a whole run.
--     bot/kb writes the column on import (SQL cannot cut bigrams); rows imported before
--     this migration get theirs at their next import (an update of the same file).
--   * kb_fts is rebuilt with grams as a fifth indexed column, and the triggers that keep
--     it in step with kb_entries (they belong to kb_entries) are recreated over the new
--     column list.
--   * guild_settings: staff_role_id is the role the bot offers when it does not know an
--     answer; staff_ping (0 or 1) whether it may ping that role; staff_channel_id where
--     members are sent for help (and where a ping goes, when set).

ALTER TABLE kb_entries ADD COLUMN grams TEXT NOT NULL DEFAULT '';

DROP TRIGGER kb_fts_insert;
DROP TRIGGER kb_fts_delete;
DROP TRIGGER kb_fts_update;
DROP TABLE kb_fts;
CREATE VIRTUAL TABLE kb_fts USING fts5 (
    guild_id UNINDEXED, title, body, terms, grams,
    content = 'kb_entries', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER kb_fts_insert AFTER INSERT ON kb_entries BEGIN
    INSERT INTO kb_fts (rowid, guild_id, title, body, terms, grams)
    VALUES (new.id, new.guild_id, new.title, new.body, new.terms, new.grams);
END;
CREATE TRIGGER kb_fts_delete AFTER DELETE ON kb_entries BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, guild_id, title, body, terms, grams)
    VALUES ('delete', old.id, old.guild_id, old.title, old.body, old.terms, old.grams);
END;
CREATE TRIGGER kb_fts_update AFTER UPDATE ON kb_entries BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, guild_id, title, body, terms, grams)
    VALUES ('delete', old.id, old.guild_id, old.title, old.body, old.terms, old.grams);
    INSERT INTO kb_fts (rowid, guild_id, title, body, terms, grams)
    VALUES (new.id, new.guild_id, new.title, new.body, new.terms, new.grams);
END;
INSERT INTO kb_fts (kb_fts) VALUES ('rebuild');

ALTER TABLE guild_settings ADD COLUMN staff_role_id INTEGER;
ALTER TABLE guild_settings ADD COLUMN staff_channel_id INTEGER;
ALTER TABLE guild_settings ADD COLUMN staff_ping INTEGER NOT NULL DEFAULT 0 CHECK (staff_ping IN (0, 1));
