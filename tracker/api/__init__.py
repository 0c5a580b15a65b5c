"""The read-only public JSON API, ``/api/v1``."""
