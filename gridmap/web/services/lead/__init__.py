"""Grids as a grid lead sees them: the hierarchy filter, attribute and area filters, the
detail panel's figures and the case table — every read scoped to the signed-in user."""
