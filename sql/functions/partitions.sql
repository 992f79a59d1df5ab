-- Partition maintenance of the time-partitioned tables (registry gridmap_partitioned,
-- migrations 0029-0031). Every bound is a UTC midnight (day) or the UTC midnight opening a
-- month; the functions run with TimeZone UTC so the session's zone never moves a bound.

-- Name of parent's partition for the period opening at start: gps_pings_p20261206 (day),
-- case_events_p202612 (month).
CREATE OR REPLACE FUNCTION gridmap_partition_name(parent text, period text, start timestamptz)
RETURNS text
LANGUAGE sql STABLE SET TimeZone = 'UTC' AS $$
    SELECT parent || '_p' || to_char(start, CASE period WHEN 'day' THEN 'YYYYMMDD' ELSE 'YYYYMM' END)
$$;

-- A partition is read through its parent only (whose row-level security applies): no
-- privilege for the grid reader (the default privileges of 0010 would grant SELECT), and
-- row-level security without a policy as a second lock.
CREATE OR REPLACE FUNCTION gridmap_partition_protect(part text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('REVOKE ALL ON %I FROM gridmap_grid_reader', part);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
END
$$;

-- Creates parent's partition for the period holding ts; returns its name, or NULL when
-- that period is covered already (its own partition, or the legacy partition of 0029).
-- The DEFAULT partition must hold no row of that period (gridmap_partitions_ensure moves
-- them first).
CREATE OR REPLACE FUNCTION gridmap_partition_create(parent text, ts timestamptz) RETURNS text
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    reg gridmap_partitioned;
    lo timestamptz;
    part text;
BEGIN
    SELECT * INTO STRICT reg FROM gridmap_partitioned WHERE table_name = parent;
    lo := date_trunc(reg.period, ts);
    part := gridmap_partition_name(parent, reg.period, lo);
    IF to_regclass(part) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       part, parent, lo, lo + ('1 ' || reg.period)::interval);
    EXCEPTION WHEN invalid_object_definition THEN  -- overlaps the legacy partition
        RETURN NULL;
    END;
    PERFORM gridmap_partition_protect(part);
    RETURN part;
END
$$;

-- Moves the rows of parent's DEFAULT partition into partitions of their own periods; returns
-- the partitions created. The DEFAULT partition is swapped for an empty one, and its rows are
-- inserted again through the parent (a case_events move notifies live dashboards once).
CREATE OR REPLACE FUNCTION gridmap_partition_split_default(parent text) RETURNS SETOF text
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    reg gridmap_partitioned;
    dflt text := parent || '_default';
    moving text := parent || '_default_moving';
    cols text;
    period timestamptz;
    made text;
    stranded boolean;
BEGIN
    SELECT * INTO STRICT reg FROM gridmap_partitioned WHERE table_name = parent;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', dflt) INTO STRICT stranded;
    IF NOT stranded THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, dflt);
    EXECUTE format('ALTER TABLE %I RENAME TO %I', dflt, moving);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', dflt, parent);
    PERFORM gridmap_partition_protect(dflt);
    FOR period IN EXECUTE format('SELECT DISTINCT date_trunc(%L, %I) FROM %I ORDER BY 1',
                                 reg.period, reg.column_name, moving) LOOP
        made := gridmap_partition_create(parent, period);
        IF made IS NOT NULL THEN
            RETURN NEXT made;
        END IF;
    END LOOP;
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
    FROM pg_attribute
    WHERE attrelid = parent::regclass AND attnum > 0 AND NOT attisdropped;
    EXECUTE format('INSERT INTO %I (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %I',
                   parent, cols, cols, moving);
    EXECUTE format('DROP TABLE %I', moving);
END
$$;

-- Makes sure every partitioned table has a partition for each period from now to
-- now + ahead_days, after moving rows stranded in its DEFAULT partition into partitions of
-- their own; returns the partitions created.
CREATE OR REPLACE FUNCTION gridmap_partitions_ensure(ahead_days integer) RETURNS SETOF text
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    reg gridmap_partitioned;
    t timestamptz;
    made text;
BEGIN
    IF ahead_days IS NULL OR ahead_days < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('ahead_days must be 0 or more, not %s', ahead_days);
    END IF;
    FOR reg IN SELECT * FROM gridmap_partitioned ORDER BY table_name LOOP
        RETURN QUERY SELECT gridmap_partition_split_default(reg.table_name);
        t := date_trunc(reg.period, now());
        WHILE t <= now() + make_interval(days => ahead_days) LOOP
            made := gridmap_partition_create(reg.table_name, t);
            IF made IS NOT NULL THEN
                RETURN NEXT made;
            END IF;
            t := t + ('1 ' || reg.period)::interval;
        END LOOP;
    END LOOP;
END
$$;

-- Makes sure parent has a partition for each period from lo to hi (e.g. before a bulk load
-- of that span); returns the partitions created.
CREATE OR REPLACE FUNCTION gridmap_partitions_cover(parent text, lo timestamptz, hi timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    reg gridmap_partitioned;
    t timestamptz;
    made text;
BEGIN
    SELECT * INTO STRICT reg FROM gridmap_partitioned WHERE table_name = parent;
    RETURN QUERY SELECT gridmap_partition_split_default(parent);
    t := date_trunc(reg.period, lo);
    WHILE t <= hi LOOP
        made := gridmap_partition_create(parent, t);
        IF made IS NOT NULL THEN
            RETURN NEXT made;
        END IF;
        t := t + ('1 ' || reg.period)::interval;
    END LOOP;
END
$$;

-- The partitions of parent with their bounds (NULL lower: MINVALUE; both NULL: DEFAULT).
CREATE OR REPLACE FUNCTION gridmap_partitions(parent text)
RETURNS TABLE (partition_name text, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE SET TimeZone = 'UTC' AS $$
    SELECT c.relname::text,
           (regexp_match(b.expr, 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
           (regexp_match(b.expr, 'TO \(''([^'']+)''\)'))[1]::timestamptz
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS expr) b
    WHERE i.inhparent = parent::regclass
    ORDER BY 3 NULLS LAST, 2 NULLS FIRST
$$;

-- Retention: drops every partition of parent lying wholly before cutoff (instant, no row
-- deleted one by one; the legacy partition too, once its newest period is over) and deletes
-- the few rows before cutoff stranded in the DEFAULT partition; returns the partitions
-- dropped. Only for tables whose history may go (raw GPS pings; never the aggregates).
CREATE OR REPLACE FUNCTION gridmap_partitions_drop_before(parent text, cutoff timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    reg gridmap_partitioned;
    part record;
BEGIN
    SELECT * INTO STRICT reg FROM gridmap_partitioned WHERE table_name = parent;
    FOR part IN SELECT * FROM gridmap_partitions(parent)
                WHERE upper_bound IS NOT NULL AND upper_bound <= cutoff LOOP
        EXECUTE format('DROP TABLE %I', part.partition_name);
        RETURN NEXT part.partition_name;
    END LOOP;
    EXECUTE format('DELETE FROM %I WHERE %I < $1', parent || '_default', reg.column_name)
        USING cutoff;
END
$$;
