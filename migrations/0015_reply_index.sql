-- 0015_reply_index: "has anyone replied to this message?" (a member profile's unanswered
-- questions) without scanning the archive. Partial: most messages are not replies.
CREATE INDEX messages_reply ON messages (reply_to_id) WHERE reply_to_id IS NOT NULL;
