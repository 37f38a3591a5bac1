"""Recordings and snippets: sniffing uploads, streaming them in, decoding from the store, snippets.

Modules: ``sniff`` (audio/video or not, by the first bytes), ``upload`` (a request
body streamed into the store), ``decode`` (ffmpeg from the store to 16 kHz
samples in memory), ``duration`` (the declared duration checked before decoding,
recordings cut short), ``ffmpeg_reasons`` (ffmpeg's messages made readable),
``snippets`` (clean-speech selection and Opus encoding).
"""
