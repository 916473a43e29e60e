"""The Microsoft 365 layer: sign-in (auth), SharePoint and Graph requests with their retries (remote), site pages.

Nothing is imported here: a module imports the one it needs."""
