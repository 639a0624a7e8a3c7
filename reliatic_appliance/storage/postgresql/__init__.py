"""The PostgreSQL backend (SPEC §11): the same ports as the SQLite backend in storage/, on one
database for every tenant, isolated by row level security. The only package that imports
psycopg (tests/test_architecture.py); nothing outside storage/ imports it, and the rest of
storage/ imports it only when `[storage] backend = "postgresql"` is chosen."""
