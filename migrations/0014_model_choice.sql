-- 0014_model_choice: the model `python -m bot model use DIR` chose, after it scored no
-- worse than the one in use on held-out text (bits per byte, both recorded). One row; a
-- running bot swaps to it, and a bot started without --model or MODEL_DIR loads it.
CREATE TABLE model_choice (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    path           TEXT NOT NULL,
    chosen_at      INTEGER NOT NULL,
    current_bpb    REAL NOT NULL,
    candidate_bpb  REAL NOT NULL
) STRICT;
