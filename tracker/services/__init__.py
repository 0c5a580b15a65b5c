"""Use cases that read and write the database. They flush; the request or job commits."""
