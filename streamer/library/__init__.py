"""The track library: what every audio file is (tags, loudness, cue points), analysed once."""
