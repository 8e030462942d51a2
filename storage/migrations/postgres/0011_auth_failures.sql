-- Failed sign-in scores shared by every node, so a guessing flood spread over the nodes
-- is throttled as if it hit one (SQLite installations are one node: they keep them in memory).
-- scope: 0 = address and account name together, 1 = address, 2 = account name.
CREATE TABLE auth_failures (
    scope    SMALLINT         NOT NULL,
    subject  TEXT             NOT NULL,
    score    DOUBLE PRECISION NOT NULL,
    last_ms  BIGINT           NOT NULL,
    PRIMARY KEY (scope, subject)
);
CREATE INDEX auth_failures_by_age ON auth_failures (last_ms);

-- Addresses each account name signed in from lately, shared too: an address known to the
-- account on any node is exempt from the account-wide wait on every node.
CREATE TABLE auth_known_addresses (
    username  TEXT   NOT NULL,
    address   TEXT   NOT NULL,
    last_ms   BIGINT NOT NULL,
    PRIMARY KEY (username, address)
);
CREATE INDEX auth_known_addresses_by_age ON auth_known_addresses (last_ms);
