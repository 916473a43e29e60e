"""The sending layer: outage emails, reminders, escalations and Teams cards: who reads what (audience), rendering
(mail), transports, the send ledger and the Notifications log (exactly once between machines).

Nothing is imported here: a module imports the one it needs."""
