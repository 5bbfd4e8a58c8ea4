#!/bin/sh
# The official chrislusf/seaweedfs image's entrypoint contract, for the offline stand-in: as
# root, hand /data to the seaweed user and drop to it; then `weed -logtostderr=true <command>`
# for the server commands (with the official defaults for `server`), any other command as
# `weed <command> ...`. The compose file passes every flag it depends on explicitly.
set -eu
if [ "$(id -u)" = "0" ]; then
  if [ "$(stat -c %u /data)" != "$(id -u seaweed)" ]; then
    chown -R seaweed:seaweed /data
  fi
  exec setpriv --reuid=seaweed --regid=seaweed --init-groups "$0" "$@"
fi
command=${1:-}
case "$command" in
  server)
    shift
    exec /usr/bin/weed -logtostderr=true server -dir=/data -volume.max=0 \
      -master.volumePreallocate -master.volumeSizeLimitMB=1024 "$@"
    ;;
  master)
    shift
    exec /usr/bin/weed -logtostderr=true master -mdir=/data -volumePreallocate \
      -volumeSizeLimitMB=1024 "$@"
    ;;
  volume)
    shift
    exec /usr/bin/weed -logtostderr=true volume -dir=/data -max=0 "$@"
    ;;
  filer | s3 | mini)
    shift
    exec /usr/bin/weed -logtostderr=true "$command" "$@"
    ;;
  *)
    exec /usr/bin/weed "$@"
    ;;
esac
