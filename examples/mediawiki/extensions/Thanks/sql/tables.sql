-- Thanks: who thanked whom for which revision
CREATE TABLE thanks_log (
	tl_id INTEGER PRIMARY KEY AUTOINCREMENT,
	tl_giver INTEGER NOT NULL,
	tl_giver_name TEXT NOT NULL,
	tl_recipient INTEGER NOT NULL,
	tl_rev INTEGER NOT NULL,
	tl_timestamp TEXT NOT NULL
);
CREATE UNIQUE INDEX thanks_log_giver_rev ON thanks_log (tl_giver, tl_rev);
CREATE INDEX thanks_log_recipient ON thanks_log (tl_recipient);
