"""The station's memory: plays, listener sessions, headlines aired; the access log; reports;
Prometheus metrics; webhooks."""
