"""Audio: decoding, the station's sample timeline, PCM shaping (fades, crossfades, cuts as pure
functions), the feeder loop, live DJs and bulletins on air, and one encoder per mount."""
