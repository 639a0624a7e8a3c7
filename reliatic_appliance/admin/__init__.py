"""The tenant administration panel under /admin/ (SPEC §10): server-rendered jinja2 pages
with vendored htmx, calling the same services as the API. It never imports storage."""
