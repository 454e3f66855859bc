"""streamer: an Internet radio station in one asyncio process."""

__version__ = "0.1.0"
