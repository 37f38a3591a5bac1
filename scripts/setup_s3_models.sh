#!/usr/bin/env bash
# Prepare an S3 bucket for ivrimeet (models, recordings, snippets), as the docs promise:
#   setup_s3_models.sh BUCKET REGION [--create-user NAME]
# Installed on PATH by `pip install` (and at /app/scripts/ in the container images);
# it is the same as `ivrimeet setup-bucket BUCKET --region REGION [--create-user NAME]`.
# Creates the bucket if missing, blocks public access, sets default encryption and a
# lifecycle rule aborting incomplete multipart uploads. Safe to run again.
# Credentials and S3_ENDPOINT_URL come from the environment, as for ivrimeet itself.
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 BUCKET REGION [--create-user NAME]" >&2
    exit 2
fi
bucket="$1"
region="$2"
shift 2
exec ivrimeet setup-bucket "$bucket" --region "$region" "$@"
