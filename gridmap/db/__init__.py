"""Database access: the embedded cluster, connections, migrations and models."""
