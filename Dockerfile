# ivrimeet container images: two targets, both CPU-only by default, non-root,
# installed from requirements.lock (the same pins the tests ran with).
#
#   docker build --target api    -t ivrimeet-api .     # API only, no torch  
#   docker build --target worker -t ivrimeet-worker .  # API + worker, CPU-only torch
#   docker build --target worker --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 \
#       -t ivrimeet-worker-gpu .                       # CUDA build for GPU hosts
#
#   docker run -p 8000:8000 --env-file .env ivrimeet-api                   # serve --no-worker
#   docker run --env-file .env ivrimeet-worker                             # worker
#   docker run -p 8000:8000 --env-file .env ivrimeet-worker ivrimeet serve # API + in-process worker
#
# No model is baked in: models live in the bucket (under MODEL_PREFIX) and are
# fetched from Hugging Face into it by whichever process needs them first, or
# ahead of time with `ivrimeet models pull`. Recordings and snippets live in the
# bucket too; the container's disk only holds a model while it is being loaded.
# Installed sizes of both targets are measured by bench/cases/install_size.py.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: wheels are installed into /opt/venv, which is all the runtime stages copy.
FROM ${PYTHON_IMAGE} AS build-base
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY scripts ./scripts
COPY src ./src

FROM build-base AS build-api
RUN /opt/venv/bin/pip install -c requirements.lock . \
    && scripts/slim_venv.sh /opt/venv

FROM build-base AS build-worker
# PyTorch's CPU index serves torch/torchaudio/torchcodec without the ~3 GB of
# nvidia-* and triton wheels that PyPI's default (CUDA) build pulls in. The lock
# pins torch==2.11.0, which the index's 2.11.0+cpu satisfies.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN /opt/venv/bin/pip install -c requirements.lock \
        --index-url "${TORCH_INDEX_URL}" --extra-index-url https://pypi.org/simple \
        ".[ml]" \
    && scripts/slim_venv.sh /opt/venv

# --- runtime: no compiler, no build files, a non-root user.
FROM ${PYTHON_IMAGE} AS runtime-base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PYANNOTE_METRICS_ENABLED=0 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    PORT=8000
RUN useradd --create-home --uid 10001 ivrimeet
WORKDIR /home/ivrimeet
# pip installs the bucket set-up script on PATH (/opt/venv/bin); this link keeps
# the documented path scripts/setup_s3_models.sh working inside the image.
RUN mkdir -p /app/scripts && ln -s /opt/venv/bin/setup_s3_models.sh /app/scripts/setup_s3_models.sh
EXPOSE 8000
# Liveness; readiness (database, queue, bucket, models loaded) is GET /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=4)"

FROM runtime-base AS api
COPY --from=build-api /opt/venv /opt/venv
USER ivrimeet
ENV IVRIMEET_DATA_DIR=/home/ivrimeet/data
CMD ["ivrimeet", "serve", "--no-worker"]

FROM runtime-base AS worker
# ffmpeg decodes recordings and encodes the snippets; torchcodec links against its libraries.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build-worker /opt/venv /opt/venv
USER ivrimeet
ENV IVRIMEET_DATA_DIR=/home/ivrimeet/data
CMD ["ivrimeet", "worker"]
