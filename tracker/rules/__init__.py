"""The rules layer: what the team does to events (open, update, resolve, close, the review gate, actions), clocks
and SLAs, validation, and building a new workbook.

Nothing is imported here: a module imports the one it needs."""
