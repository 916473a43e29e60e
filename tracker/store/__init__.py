"""Where the workbook lives, and the one way it is written: `tracker.store.backends` (the Store protocol and
`open_store`), the commit engine every store shares (`engine`), the journal, and the stores themselves (`local`,
`sharepoint` with its `excel_service`). This file imports none of them, so a store's module never runs its own
registry first."""
