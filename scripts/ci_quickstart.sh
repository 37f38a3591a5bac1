#!/usr/bin/env bash
# The README's quick start, run as a user would, against local stand-ins:
# moto's server for S3 and scripts/demo_hub.py for Hugging Face (tiny models).
#   scripts/ci_quickstart.sh        (from the checkout, with ivrimeet installed)
# Each README command runs for real; the script fails on the first that fails. The
# stand-in serves demo model ids (never the published pyannote/... ones), so
# `models pull` takes the ids its export lines name.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d /tmp/ivrimeet-quickstart.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # URL: poll until it answers, at most 60 s
  for _ in $(seq 1 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "no answer from $1" >&2; return 1
}

cd "$work"
espeak-ng -v en-us -w a.wav "Good morning everyone. Let us start the weekly sync."
espeak-ng -v en-gb+f3 -w b.wav "Thanks. I looked at the snippets this morning."
ffmpeg -v error -i a.wav -i b.wav -filter_complex concat=n=2:v=0:a=1 -ac 1 -ar 16000 meeting.wav

# Hugging Face stand-in with the tiny models; its export lines point ivrimeet at it.
hub_port="$(free_port)"
python "$OLDPWD/scripts/demo_hub.py" --port "$hub_port" > hub.env 2> hub.log &
pids+=($!)
for _ in $(seq 1 300); do grep -q DIARIZATION_PIPELINE hub.env 2>/dev/null && break; sleep 0.2; done
# shellcheck disable=SC1091
. ./hub.env

# README: ivrimeet serve, then an upload and a GET (local store, no token).
api_port="$(free_port)"
IVRIMEET_DATA_DIR="$work/data" ivrimeet serve --port "$api_port" > serve.log 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$api_port/healthz"
id="$(curl -fsS -H "Content-Type: audio/wav" --data-binary @meeting.wav \
  "http://127.0.0.1:$api_port/api/meetings" | python -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
curl -fsS "http://127.0.0.1:$api_port/api/meetings/$id" > /dev/null

# README: S3 from here on (moto's server stands in for AWS).
s3_port="$(free_port)"
moto_server -H 127.0.0.1 -p "$s3_port" > moto.log 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$s3_port/moto-api/"
export S3_BUCKET=meetings-prod S3_REGION=eu-west-1 S3_ENDPOINT_URL="http://127.0.0.1:$s3_port"
export AWS_ACCESS_KEY_ID=quickstart-access-key AWS_SECRET_ACCESS_KEY=quickstart-secret-key-0123
export IVRIMEET_DATA_DIR="$work/data-s3" IVRIMEET_TMP_DIR="$work/tmp"
mkdir -p "$IVRIMEET_TMP_DIR"
ivrimeet setup-bucket meetings-prod
ivrimeet doctor
ivrimeet models pull "$DIARIZATION_PIPELINE"
ivrimeet models pull "$EMBEDDING_MODEL"
ivrimeet models warm --require-bucket
echo "quick start: every README command ran"
