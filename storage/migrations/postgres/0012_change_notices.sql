-- Every node keeps account rows and path walks between commits; a commit that changes
-- them, by any node or the CLI, tells every node through a notice on `davgate_changes`.
-- A notice sent inside a transaction is delivered when, and only if, it commits, and
-- identical notices of one transaction are delivered once.
CREATE FUNCTION davgate_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('davgate_changes', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION davgate_announce_change();
CREATE TRIGGER nodes_announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nodes
    FOR EACH STATEMENT EXECUTE FUNCTION davgate_announce_change();
CREATE TRIGGER blobs_announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON blobs
    FOR EACH STATEMENT EXECUTE FUNCTION davgate_announce_change();
