#!/usr/bin/env bash
# Makes sure a Docker daemon answers; starts dockerd when it does not (CI machines, fresh boxes).
set -euo pipefail
if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: docker does not answer and dockerd is not installed" >&2
  exit 3
fi
echo "ensure-docker: starting dockerd" >&2
nohup dockerd >/tmp/chaosgate-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "ensure-docker: dockerd is up" >&2
    exit 0
  fi
  sleep 1
done
echo "ensure-docker: dockerd did not come up in 60 s; see /tmp/chaosgate-dockerd.log" >&2
exit 3
