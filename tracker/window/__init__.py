"""The window layer: what leadership and the customer see beyond email: the status page, the report and its
charts, the post-incident review document.

Nothing is imported here: a module imports the one it needs."""
