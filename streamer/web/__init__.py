"""The web side (aiohttp): status and now playing, the newsroom API, Icecast's admin API,
authentication. It sees the station only through `port.StationPort`."""
