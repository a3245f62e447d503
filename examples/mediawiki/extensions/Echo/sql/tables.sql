-- Echo: events and per-user notifications
CREATE TABLE echo_event (
	event_id INTEGER PRIMARY KEY AUTOINCREMENT,
	event_type TEXT NOT NULL,
	event_agent_id INTEGER NOT NULL DEFAULT 0,
	event_agent_name TEXT NOT NULL,
	event_page_namespace INTEGER DEFAULT NULL,
	event_page_title TEXT DEFAULT NULL,
	event_extra TEXT NOT NULL DEFAULT '{}',
	event_bundle_key TEXT NOT NULL DEFAULT '',
	event_timestamp TEXT NOT NULL
);
CREATE INDEX echo_event_type ON echo_event (event_type);
CREATE TABLE echo_notification (
	notification_user INTEGER NOT NULL,
	notification_event INTEGER NOT NULL REFERENCES echo_event (event_id),
	notification_timestamp TEXT NOT NULL,
	notification_read_timestamp TEXT DEFAULT NULL,
	PRIMARY KEY (notification_user, notification_event)
);
CREATE INDEX echo_notification_user_read ON echo_notification (notification_user, notification_read_timestamp);
