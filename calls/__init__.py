"""Live video and voice calls from an assigned chat: ICE and join tokens (ice), the rooms and the media
bridge (bridge), the signalling socket (signalling), the HTTP routes and pages (routes)."""
