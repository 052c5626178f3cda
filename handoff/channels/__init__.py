"""Customer channels; each turns its own input into ``Router.handle`` calls."""
