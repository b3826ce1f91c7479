-- Runs once, when the postgres container starts with an empty data directory
-- (files in /docker-entrypoint-initdb.d). Four databases for the shard suites, benchmarks and
-- `tributary shards`; the test suites also create throwaway databases of their own.
CREATE DATABASE tributary_shard_1;
CREATE DATABASE tributary_shard_2;
CREATE DATABASE tributary_shard_3;
CREATE DATABASE tributary_shard_4;
