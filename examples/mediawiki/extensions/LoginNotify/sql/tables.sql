-- LoginNotify: networks a user has logged in from, and failed attempts per network
CREATE TABLE loginnotify_seen_net (
	lsn_id INTEGER PRIMARY KEY AUTOINCREMENT,
	lsn_user INTEGER NOT NULL,
	lsn_subnet TEXT NOT NULL,
	lsn_last_seen TEXT NOT NULL
);
CREATE UNIQUE INDEX loginnotify_seen_net_user ON loginnotify_seen_net (lsn_user, lsn_subnet);
CREATE TABLE loginnotify_failures (
	lf_user INTEGER NOT NULL,
	lf_subnet TEXT NOT NULL,
	lf_count INTEGER NOT NULL DEFAULT 0,
	lf_last TEXT NOT NULL,
	PRIMARY KEY (lf_user, lf_subnet)
);
