"""The scheduler process and the one list of its jobs."""
