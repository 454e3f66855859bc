"""Streams to listeners: each mount's pacing clock and shared buffer, listeners as protocol
objects, Server-Sent Events, and the front door that routes every connection."""
