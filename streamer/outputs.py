"""The station's encoders: one per mount (continuous for MP3, AAC and Opus, a chain per title
for Vorbis and FLAC), and one for the HLS variants (an AAC output each), all fed from the one
PCM path."""

from __future__ import annotations

import time

from .audio.chain_encoder import ChainEncoder
from .audio.codecs import codec_for
from .audio.encoder import EncodedOutput, Encoder, PlacedOutput
from .audio.feeder import Feeder
from .audio.opus_output import ChainedOpusOutput
from .settings import Config, MountConfig
from .stream.hls import HlsVariant
from .stream.hls_server import HlsOutput
from .stream.mount import Mount


def make_encoder(ffmpeg: str, mount: Mount, config: Config) -> Encoder | ChainEncoder:
    """A mount's encoder: continuous for MP3, AAC and Opus (its pages re-wrapped as a chain per
    title), a chain per title for Vorbis and FLAC."""
    codec = codec_for(mount.config)
    if codec.chained:
        return ChainEncoder(ffmpeg, mount.config, config.sample_rate, config.channels, mount.queue_page, config.fanout_interval)
    if codec.format == "opus":
        output: EncodedOutput = ChainedOpusOutput(mount.config, config.sample_rate, mount.queue_page)
    else:
        output = EncodedOutput(mount.config, config.sample_rate, mount.queue_frame)
    return Encoder(ffmpeg, [output], config.channels, config.fanout_interval)


def make_hls(ffmpeg: str, config: Config, feeder: Feeder) -> tuple[HlsOutput | None, list[Encoder]]:
    """HLS variants, encoded by one ffmpeg (an AAC output each) fed from the station's one PCM path."""
    hls = config.hls
    if not hls.variants:
        return None, []

    def wall_of(sample: int) -> float:
        return feeder.timeline.time_of(sample, time.time())

    variants, outputs = [], []
    for v in hls.variants:
        variant = HlsVariant(v.name, v.bitrate, v.sample_rate, hls.segment, hls.window, wall_of, hls.container, hls.parts)
        settings = MountConfig(f"/hls/{v.name}", format="aac", bitrate=v.bitrate, sample_rate=v.sample_rate, channels=v.channels)
        outputs.append(PlacedOutput(settings, config.sample_rate, variant.frame))  # type: ignore[arg-type]
        variants.append(variant)
    return HlsOutput(variants, hls.segment), [Encoder(ffmpeg, outputs, config.channels, config.fanout_interval)]
