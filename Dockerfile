# ivrimeet: the API (and, unless --no-worker, an in-process worker) in one image.
#
#   docker build -t ivrimeet .
#   docker run -p 8000:8000 --env-file .env ivrimeet                  # API + worker
#   docker run --env-file .env ivrimeet ivrimeet serve --no-worker      # API replica
#   docker run --env-file .env ivrimeet ivrimeet worker                 # worker
#
# No model is baked in: models live in the bucket (under MODEL_PREFIX) and are
# fetched from Hugging Face into it by whichever process needs them first, or
# ahead of time with `ivrimeet models pull`. Recordings and snippets live in the
# bucket too; the container's disk only holds a model while it is being loaded.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg decodes recordings (reading presigned URLs) and encodes the Opus snippets;
# torchcodec, pyannote's decoder, links against its libraries.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
# The `ml` extra pins torch/torchaudio/torchcodec/pyannote/speechbrain versions that
# load together (see pyproject.toml). To pull CPU-only torch wheels (a much smaller
# image), pass --build-arg PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_EXTRA_INDEX_URL=
RUN pip install ".[ml]"

RUN useradd --create-home --uid 10001 ivrimeet
USER ivrimeet
ENV IVRIMEET_DATA_DIR=/home/ivrimeet/data \
    PYANNOTE_METRICS_ENABLED=0 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    PORT=8000
EXPOSE 8000

# Liveness; readiness (database, queue, bucket, models loaded) is GET /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=4)"

CMD ["ivrimeet", "serve"]
