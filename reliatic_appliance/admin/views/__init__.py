"""The panel's pages, one module per section; each view takes a `render.PageCall`."""
