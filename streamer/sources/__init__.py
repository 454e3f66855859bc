"""Sources: source clients at the door (credentials, pass-through mounts), their connections
and ingest, live takeover, pull relays from upstream servers, and pushes to external Icecasts."""
