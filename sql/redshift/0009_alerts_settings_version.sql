-- The runtime-settings version in force when an alert was raised (alert contract 1.1.0,
-- `settings_version`: the control topic's version, 0 = the config's own settings). An
-- analyst asking "did this alert come before or after the threshold change?" reads it
-- here. Alerts written before 1.1.0 carry none: absent = 0, as the contract says, so the
-- column is NOT NULL with default 0 (rows loaded earlier get 0 too). A small integer per
-- alert that changes rarely: AZ64.
ALTER TABLE alerts ADD COLUMN settings_version BIGINT DEFAULT 0 ENCODE az64 NOT NULL;

-- The landing table follows the JSON as it is: NULL where an alert has no settings_version
-- (the loader writes 0 into alerts).
ALTER TABLE alerts_stage ADD COLUMN settings_version BIGINT;
