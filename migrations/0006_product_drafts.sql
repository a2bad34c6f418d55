-- 0006_product_drafts: product descriptions drafted by the model for a moderator to approve.
--
--   * One row per /product describe. The draft is only a proposal: nothing a member sees
--     changes until a moderator presses Approve, which writes text into the product's
--     kb_entries body; Discard keeps the row, so the decision stays on record.
--   * sku is the product's kb_entries key (not its id): an import that rebuilds the
--     catalog keeps the key, so a draft still finds its product after one.
--   * status is 'pending', 'approved' or 'discarded', validated in bot/features/knowledge
--     (per 0002's conventions, kinds are not listed in the schema). decided_at is set
--     exactly when the status leaves 'pending'; a press that finds it set is refused.
--   * author_id (who asked for the draft) and decided_by (who approved or discarded it)
--     name members: the knowledge feature's data hooks export them, and unlink them on a
--     deletion request (set them NULL) while the shop's text stays.

CREATE TABLE product_drafts (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    sku         TEXT NOT NULL CHECK (length(trim(sku)) > 0),
    text        TEXT NOT NULL CHECK (length(trim(text)) > 0),
    author_id   INTEGER,
    status      TEXT NOT NULL DEFAULT 'pending',
    created_at  INTEGER NOT NULL,
    decided_by  INTEGER,
    decided_at  INTEGER,
    CHECK ((status = 'pending') = (decided_at IS NULL))
) STRICT;
