-- 0012_insights: what the classifiers learnt about each archived message, the products it
-- names, the staff follow-up list of complaints, and the weekly digests already posted.
--
-- message_labels: one row per classified member message; it goes with the message (an
-- edit deletes the row, so the message is classified again). score is the probability of
-- positive minus that of negative, -1 to 1. guild_id, author_id and created_at are the
-- message's, copied so that per-day and per-member sums need no join. The label sets are
-- checked in code (bot/insights), like every other kind in this schema.
-- Member data: message_labels.author_id, followups.user_id (and resolved_by, a moderator).
CREATE TABLE message_labels (
    message_id  INTEGER PRIMARY KEY REFERENCES messages (message_id) ON DELETE CASCADE,
    guild_id    INTEGER NOT NULL,
    author_id   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    sentiment   TEXT NOT NULL,   -- the classifier's label: negative, neutral, positive
    score       REAL NOT NULL CHECK (score BETWEEN -1 AND 1),
    intent      TEXT NOT NULL,   -- bot/insights/intent.py's INTENTS
    labelled_at INTEGER NOT NULL
) STRICT;
CREATE INDEX message_labels_guild_time ON message_labels (guild_id, created_at);
CREATE INDEX message_labels_author ON message_labels (author_id, guild_id, created_at);

-- The catalog products a message names (its "products of interest"); gone with the label
-- or with the product.
CREATE TABLE message_products (
    message_id INTEGER NOT NULL REFERENCES message_labels (message_id) ON DELETE CASCADE,
    entry_id   INTEGER NOT NULL REFERENCES kb_entries (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, entry_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX message_products_entry ON message_products (entry_id);

-- A complaint waits here until a moderator marks it resolved. The text is a snapshot: the
-- follow-up outlives the message (a member who deletes an angry post still needs an
-- answer), so message_id is not a foreign key. Numbered per guild.
CREATE TABLE followups (
    guild_id    INTEGER NOT NULL,
    number      INTEGER NOT NULL CHECK (number > 0),
    message_id  INTEGER NOT NULL UNIQUE,
    channel_id  INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    user_name   TEXT NOT NULL,
    content     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    resolved_by INTEGER,
    resolved_at INTEGER,
    resolution  TEXT,
    PRIMARY KEY (guild_id, number),
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
) STRICT;
CREATE INDEX followups_open ON followups (guild_id, created_at) WHERE resolved_at IS NULL;
CREATE INDEX followups_member ON followups (user_id, guild_id);
CREATE INDEX followups_moderator ON followups (resolved_by);

-- week is the unix ms of the Monday 00:00 (guild time) the digest covers up to; the row is
-- written before the post, so two processes never both post a week's digest.
CREATE TABLE insight_digests (
    guild_id   INTEGER NOT NULL,
    week       INTEGER NOT NULL,
    posted_at  INTEGER NOT NULL,
    PRIMARY KEY (guild_id, week)
) STRICT, WITHOUT ROWID;
