"""Wire formats, sans-IO: bytes in, values out; imports nothing else of the package.

HTTP heads and Icecast's answers, chunked bodies, ICY metadata, MP3 frames, Ogg pages and ADTS
frames, the one table of stream formats, playlist files, Icecast's XML/JSON shapes, HLS
playlists, MPEG-TS segments and ID3 tags.
"""
