-- 0003_answered_user: the bot's answers say which member they answered.
--
-- A member's data export or deletion must include the bot's answers to them. Finding those
-- by walking reply chains from the member's messages missed answers whose question was
-- deleted, and needed a scan of the bot's messages per answer. The bot's posts now carry
-- answered_user_id (NULL on everyone else's messages), with an index, so the lookup is one
-- indexed read. A new nullable column is an ALTER TABLE, not a rebuild.

ALTER TABLE messages ADD COLUMN answered_user_id INTEGER;

-- Backfill from the reply chains that exist today: each bot post that replies to a member's
-- message, then each bot post that continues one of those (the later parts of an answer).
CREATE INDEX messages_reply_tmp ON messages (reply_to_id) WHERE reply_to_id IS NOT NULL;
WITH RECURSIVE answers(id, user_id) AS (
    SELECT a.message_id, q.author_id FROM messages a JOIN messages q ON a.reply_to_id = q.message_id
    WHERE a.is_bot = 1 AND q.is_bot = 0
    UNION
    SELECT m.message_id, answers.user_id FROM messages m JOIN answers ON m.reply_to_id = answers.id
    WHERE m.is_bot = 1
)
UPDATE messages SET answered_user_id = (SELECT user_id FROM answers WHERE id = messages.message_id)
WHERE message_id IN (SELECT id FROM answers);
DROP INDEX messages_reply_tmp;

CREATE INDEX messages_answered ON messages (answered_user_id, guild_id)
    WHERE answered_user_id IS NOT NULL;
