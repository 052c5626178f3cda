"""Conversation routing, the handoff state machine, and the customer channels."""
