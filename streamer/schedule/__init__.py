"""The programme: YAML read into a validated model, what its playlists hold, the pure scheduler
(time and history in, what plays out), the timeline a DJ reads, and hot reload.

Pure but for reading files (and the reload watcher, which runs the reading in a worker)."""
