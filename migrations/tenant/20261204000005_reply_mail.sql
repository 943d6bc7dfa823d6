-- The highest sequence number of the agents' replies already emailed to the visitor (issue 14):
-- a reply is mailed once, and only if the visitor has not read it (visitor_read_seq).
alter table conversations add column emailed_seq bigint not null default 0;
