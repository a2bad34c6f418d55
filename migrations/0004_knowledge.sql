-- 0004_knowledge: one per-guild knowledge base (products, FAQ entries, the shop's "about")
-- in place of 0001's separate products and faq tables.
--
--   * One table, because retrieval ranks products and FAQ answers against each other for
--     the same question, and one FTS index gives them comparable bm25 scores in one query.
--   * kind is 'product', 'faq' or 'about' (validated in bot/kb, per 0002's conventions);
--     key is the import key: the sku of a product, the normalised question of an FAQ entry,
--     'about' for the about entry. Re-importing a file updates rows in place by that key.
--   * title is a product's name or an FAQ question; body its description or answer.
--   * price is kept as the file wrote it (what a reply may quote) next to price_cents (what
--     code compares and sorts); in_stock NULL means the file did not say.
--   * terms is what search matches besides title and body: a product's sku, category and
--     attributes. It is generated, so the index cannot disagree with the row.
--   * products and faq held no rows written by code (nothing used them); any rows a
--     database has are copied in, an FAQ question keyed as bot/kb keys it (lower case,
--     without a trailing '?'; bot/kb also folds runs of inner spaces and non-ASCII case).
--     Rows without a name, sku or question could not be entries and are not copied.

CREATE TABLE kb_entries (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL CHECK (length(trim(key)) > 0),
    title       TEXT NOT NULL CHECK (length(trim(title)) > 0),
    body        TEXT NOT NULL DEFAULT '',
    category    TEXT,
    price       TEXT,
    price_cents INTEGER CHECK (price_cents >= 0),
    currency    TEXT CHECK (length(currency) = 3 AND currency = upper(currency)),
    in_stock    INTEGER CHECK (in_stock IN (0, 1)),
    attributes  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes)),
    url         TEXT,
    source      TEXT NOT NULL DEFAULT '',   -- the file it was imported from (its name)
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    terms       TEXT GENERATED ALWAYS AS (
                    CASE kind WHEN 'product'
                    THEN key || ' ' || coalesce(category, '') || ' ' || attributes
                    ELSE '' END
                ) VIRTUAL,
    CHECK ((price IS NULL) = (price_cents IS NULL)),
    UNIQUE (guild_id, kind, key)
) STRICT;

-- External content: the text lives once, in kb_entries; the triggers below are the only
-- writers. guild_id is stored but not indexed: queries filter on it after MATCH.
CREATE VIRTUAL TABLE kb_fts USING fts5 (
    guild_id UNINDEXED, title, body, terms,
    content = 'kb_entries', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER kb_fts_insert AFTER INSERT ON kb_entries BEGIN
    INSERT INTO kb_fts (rowid, guild_id, title, body, terms)
    VALUES (new.id, new.guild_id, new.title, new.body, new.terms);
END;
CREATE TRIGGER kb_fts_delete AFTER DELETE ON kb_entries BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, guild_id, title, body, terms)
    VALUES ('delete', old.id, old.guild_id, old.title, old.body, old.terms);
END;
CREATE TRIGGER kb_fts_update AFTER UPDATE ON kb_entries BEGIN
    INSERT INTO kb_fts (kb_fts, rowid, guild_id, title, body, terms)
    VALUES ('delete', old.id, old.guild_id, old.title, old.body, old.terms);
    INSERT INTO kb_fts (rowid, guild_id, title, body, terms)
    VALUES (new.id, new.guild_id, new.title, new.body, new.terms);
END;

INSERT INTO kb_entries (guild_id, kind, key, title, body, category, price, price_cents,
                        currency, url, created_at, updated_at)
SELECT guild_id, 'product', sku, name, description, category,
       CASE WHEN price_cents IS NULL THEN NULL ELSE printf('%.2f', price_cents / 100.0) END,
       price_cents, currency, url, created_at, updated_at
FROM products WHERE length(trim(name)) > 0 AND length(trim(sku)) > 0 ORDER BY id;
INSERT INTO kb_entries (guild_id, kind, key, title, body, created_at, updated_at)
SELECT guild_id, 'faq', rtrim(lower(trim(question)), '? '), question, answer, created_at, updated_at
FROM faq WHERE rtrim(lower(trim(question)), '? ') <> '' ORDER BY id
ON CONFLICT (guild_id, kind, key) DO NOTHING;

-- Dropping a table drops its triggers too.
DROP TABLE products_fts;
DROP TABLE faq_fts;
DROP TABLE products;
DROP TABLE faq;
