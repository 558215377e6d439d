# DigitBridge: one image for the search service (default command) and the indexer
# (`python -m indexer`).
#
#   docker build -t digitbridge:0.1.0 .                                  # CPU: ONNX Runtime, no PyTorch
#   docker build --build-arg TORCH_VARIANT=cu130 -t digitbridge:0.1.0-cu130 .   # + PyTorch, CUDA 13.0
#
# On CPU the encoders run on ONNX Runtime from the graphs committed beside the checkpoint
# (models/runtime.py), so the default image carries no PyTorch. The CUDA variant adds PyTorch
# on the same slim base: its CUDA wheels carry the CUDA runtime libraries as pip packages,
# and the host's NVIDIA driver comes in through the NVIDIA Container Toolkit (compose's `gpu`
# profile reserves the device).

# Exact tag (no `latest`, no floating `3.11`): the interpreter matches pyproject's
# requires-python and the version requirements.lock was resolved with.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# none | cpu | cu130 | ... : none installs no PyTorch (ONNX Runtime serves on CPU); otherwise a
# directory of PyTorch's wheel index, where torch alone comes from; everything else comes from
# PyPI at requirements.lock's pins.
ARG TORCH_VARIANT=none
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/${TORCH_VARIANT}

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build
COPY pyproject.toml requirements.lock ./

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# 1. Unless TORCH_VARIANT=none: PyTorch from the chosen index, at the lock's version (2.11.0
#    matches 2.11.0+cu130), for DEVICE=cuda.
# 2. The runtime dependencies named in pyproject (not training's, not the dev tools),
#    constrained by the lock. PyAV's and pillow-heif's manylinux wheels bundle FFmpeg and libheif
#    (Pillow's bundles libavif): the decoders need no Debian package. The torch family and its CUDA wheels are left out of the
#    constraints: they differ between CPU and CUDA builds.
RUN python -m venv /opt/venv \
 && grep -E '^torch==' requirements.lock > torch.txt \
 && grep -vE '^(torch|torchaudio|triton|nvidia-|cuda-)' requirements.lock > constraints.txt \
 && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > runtime.txt \
 && if [ "${TORCH_VARIANT}" != none ]; then /opt/venv/bin/pip install --index-url "${TORCH_INDEX_URL}" -r torch.txt; fi \
 && /opt/venv/bin/pip install -c constraints.txt -r runtime.txt \
 && /opt/venv/bin/pip check

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="digitbridge" \
      org.opencontainers.image.description="Cross-modal digit search: handwritten images <-> spoken digits, over Weaviate" \
      org.opencontainers.image.licenses="MIT"

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it and a host data folder
# can be chowned to it.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
 && mkdir -p /data \
 && chown app:app /data

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=1 \
    DEVICE=auto \
    ENCODER_RUNTIME=auto \
    CHECKPOINT=/app/models/checkpoints/digitbridge.pt \
    DATA_DIR=/data

COPY --from=builder /opt/venv /opt/venv

# Only what runs: the packages the image's commands import, whole (training/ stays out), with
# the committed checkpoint and its ONNX graphs (models/checkpoints; .dockerignore leaves the
# model card, metrics and plots out) and the web page (service/static). Owned by root and read-only for the app user.
WORKDIR /app
COPY models/ ./models/
COPY store/ ./store/
COPY indexer/ ./indexer/
COPY service/ ./service/
COPY launcher/ ./launcher/

USER 10001:10001
EXPOSE 8000

# urllib, not curl: the slim base has no curl. A non-2xx answer or none raises, and
# Python's exit status 1 is what Docker reads as unhealthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# The launcher indexes if needed, then serves; it reads HOST, PORT and WORKERS.
# The indexer: `docker run IMAGE python -m indexer`.
CMD ["python", "-m", "launcher"]
