"""arbdesk."""
