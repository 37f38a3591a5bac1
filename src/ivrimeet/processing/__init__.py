"""The job that turns a recording into speakers: ``process_recording`` and what it uses.

Modules: ``job`` (the steps, results, timings), ``models`` (``ModelHolder``,
models loaded once per process), ``voiceprints`` (embeddings and name
suggestions), ``rttm`` (the RTTM format).
"""
