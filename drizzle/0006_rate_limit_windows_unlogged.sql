-- Rate-limit counts need no crash safety (a restart at worst forgets up to two
-- minutes of counts), so the table skips the WAL: the statement that counts
-- every authenticated request then never waits on a log flush. Unlogged tables
-- are not replicated to standbys either, which suits counts just as well.
ALTER TABLE "rate_limit_windows" SET UNLOGGED;
