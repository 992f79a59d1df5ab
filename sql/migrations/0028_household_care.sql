-- Each household keeps its visit cadence and whether it is vulnerable (issue 15), so the
-- overdue shares of every grid are one scan and one aggregate of households, with no lookup
-- of cadences and tags per household (1.2M households: ~1.2 s -> ~0.4 s, see
-- benchmarks/bench_households.py).
--
--   cadence_days: the shortest of the cadences of its tags and the every-household cadence
--                 (visit_cadences.tag NULL); NULL when none applies (not tracked)
--   vulnerable:   it carries a tag marked vulnerable (household_tags.vulnerable)
--
-- Kept by triggers, never given by hand: a household's row trigger computes both from its
-- tags on every insert and on every update naming tags or either column; a change to the
-- cadences or the tags' vulnerable flags recomputes the households it changes.

ALTER TABLE households
    ADD COLUMN cadence_days integer,
    ADD COLUMN vulnerable boolean NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION gridmap_households_care() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.cadence_days := (SELECT min(c.days) FROM visit_cadences c
                         WHERE c.tag IS NULL OR c.tag = ANY (NEW.tags));
    NEW.vulnerable := coalesce(NEW.tags && ARRAY(SELECT t.slug FROM household_tags t
                                                 WHERE t.vulnerable), false);
    RETURN NEW;
END
$$;
CREATE TRIGGER households_care BEFORE INSERT OR UPDATE OF tags, cadence_days, vulnerable
    ON households FOR EACH ROW EXECUTE FUNCTION gridmap_households_care();

-- After a change to the cadences or the tags: the households whose cadence or vulnerable
-- flag it changes are updated (their row trigger recomputes both columns).
CREATE OR REPLACE FUNCTION gridmap_households_recare() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE households h SET cadence_days = h.cadence_days
    WHERE h.cadence_days IS DISTINCT FROM (SELECT min(c.days) FROM visit_cadences c
                                           WHERE c.tag IS NULL OR c.tag = ANY (h.tags))
       OR h.vulnerable IS DISTINCT FROM coalesce(
              h.tags && ARRAY(SELECT t.slug FROM household_tags t WHERE t.vulnerable), false);
    RETURN NULL;
END
$$;
CREATE TRIGGER visit_cadences_recare AFTER INSERT OR UPDATE OR DELETE ON visit_cadences
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_households_recare();
CREATE TRIGGER household_tags_recare AFTER INSERT OR UPDATE OR DELETE ON household_tags
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_households_recare();

-- The households already there.
UPDATE households SET cadence_days = NULL;
