"""Which espeak-ng voice reads a headline (pure).

The station's voice (`news.voice`, English by default) reads every headline written in its
script. One written mostly in another script (a wire story in Arabic, a quote in Russian) is
read by a voice for that script: the English voice spells such text out letter by letter, or
says nothing at all. Japanese with kanji is read by no voice: espeak-ng's Japanese voice reads
kana only, and says "Chinese letter" for each kanji (QA); such a headline airs as its title over
the news bed.
"""

from __future__ import annotations

import unicodedata

# The first word of a letter's Unicode name, to the espeak-ng voice that reads that script.
SCRIPT_VOICES = {
    "ARABIC": "ar", "CYRILLIC": "ru", "GREEK": "el", "HEBREW": "he", "DEVANAGARI": "hi", "BENGALI": "bn",
    "TAMIL": "ta", "GEORGIAN": "ka", "ARMENIAN": "hy", "THAI": "th", "HANGUL": "ko", "JAPANESE": "ja", "CJK": "cmn",
}  # fmt: skip
MOSTLY = 0.5  # the share of a headline's letters in one other script for its voice to read it


def script_of(char: str) -> str:
    """The script of a letter, as the first word of its Unicode name ("LATIN", "CYRILLIC", ...)."""
    return unicodedata.name(char, "").split(" ", 1)[0]


def voice_for(text: str, station_voice: str) -> str | None:
    """The station's voice, or the voice for the script most of `text`'s letters are in when
    that is not one the station's voice reads; None when no voice reads it (Japanese kanji)."""
    scripts: dict[str, int] = {}
    letters = 0
    for char in text:
        if char.isalpha():
            letters += 1
            script = script_of(char)
            scripts[script] = scripts.get(script, 0) + 1
    if not letters:
        return station_voice
    kana = scripts.pop("HIRAGANA", 0) + scripts.pop("KATAKANA", 0)
    kanji = bool(kana) and scripts.get("CJK", 0) > 0
    if kana:  # Japanese writes kanji (CJK) and kana together
        scripts["JAPANESE"] = kana + scripts.pop("CJK", 0)
    script, count = max(scripts.items(), key=lambda kv: kv[1])
    if script == "JAPANESE" and kanji and count >= MOSTLY * letters:
        return None
    voice = SCRIPT_VOICES.get(script)
    if voice is None or count < MOSTLY * letters:
        return station_voice
    own = station_voice.split("-")[0].split("+")[0]  # "ru+f3", "en-us"
    if voice == own or (script in ("JAPANESE", "CJK") and own in ("ja", "cmn", "yue")):
        return station_voice  # (the station's voice reads that script: a Russian station reading Russian)
    return voice
