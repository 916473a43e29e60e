"""The workbook layer: the schema, reading and typing sheets, the edits a command asks for, fixes, cadence rules.

Nothing is imported here: a module imports the one it needs (`tracker.workbook.reading`, `.schema`, ...)."""
