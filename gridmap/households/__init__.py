"""Below the building (issue 15): residential compounds, households with tags, ten-household
units, door-to-door visits and the cadences they are due at.

Tables: migration ``0024_households.sql``; SQL functions: ``sql/functions/households.sql``.
:mod:`.visits` records visits (idempotent, far fixes flagged) and reads a household's
history; :mod:`.cadence` answers the shares visited and the overdue households."""
