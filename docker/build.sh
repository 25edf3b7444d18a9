#!/usr/bin/env bash
# make image: builds docker/Dockerfile's two targets,
#   $IMAGE:latest   (runtime: qat + libtensorflow on distroless cc)
#   $IMAGE:convert  (+ Python and the venv, for `qat convert`)
# with docker when a Docker engine answers, else with buildah, whose missing
# base images docker/bases.sh builds locally under their official names.
# IMAGE defaults to qat-go/qat.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
image=${IMAGE:-qat-go/qat}
dockerfile=$here/Dockerfile
cd "$top"

log() { echo "make image: $*" >&2; }
die() { log "$*"; exit 1; }

if command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
  log "building with docker ($(docker version -f '{{.Server.Version}}' 2>/dev/null || echo engine))"
  export DOCKER_BUILDKIT=1
  docker build -f "$dockerfile" --target runtime -t "$image:latest" .
  docker build -f "$dockerfile" --target convert -t "$image:convert" .
  docker image ls "$image"
  exit 0
fi

# buildah, as root. crun cannot start containers on this kind of host
# (cgroups v1/v2 hybrid); chroot isolation needs no OCI runtime.
[ "$(id -u)" = 0 ] || die "no Docker engine answers, and buildah needs root here"
if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
  log "no Docker engine answers: installing buildah and debootstrap (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap >/dev/null ||
    die "could not install buildah and debootstrap"
fi
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

# Disk: a first build takes about 7.3 GB in buildah's storage (the build
# stage alone is 4.1 GB), a rebuild far less. Say so now rather than fail with
# "no space left on device" half-way.
storage=$(buildah info --format '{{.store.GraphRoot}}' 2>/dev/null || echo /var/lib/containers/storage)
probe=$storage
while [ ! -d "$probe" ]; do probe=$(dirname "$probe"); done
need_gb=3
buildah inspect --type image "$image:latest" >/dev/null 2>&1 || need_gb=9
free_gb=$(df -Pk "$probe" | awk 'NR == 2 {printf "%d", $4 / 1048576}')
[ "$free_gb" -ge "$need_gb" ] ||
  die "$free_gb GB free under $storage; building the images needs about $need_gb GB (buildah rmi --prune frees old layers)"
log "no Docker engine answers: building with $(buildah --version) (isolation $BUILDAH_ISOLATION)"
bash "$here/bases.sh" "$dockerfile"

# The machine's CA bundle (HTTPS may go through a proxy whose CA only it
# has) for go and pip in the build stage's RUN steps, mounted read-only over
# that image's own bundle; pip gets it through a pip.conf. Only the first
# build gets them: the second reuses that build stage from the layer cache,
# and its own stage (debian slim, which has neither file) would keep the
# empty mount points in the image.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ca=/etc/ssl/certs/ca-certificates.crt
mounts=()
if [ -s "$ca" ]; then
  printf '[global]\ncert = %s\n' "$ca" >"$tmp/pip.conf"
  mounts=(-v "$ca:$ca:ro" -v "$tmp/pip.conf:/etc/pip.conf:ro")
fi

# --layers: the build stage is built once and reused by the second target
# (and by the next `make image` whenever its inputs did not change).
bud() {
  buildah bud --layers --pull=never --ignorefile "$here/Dockerfile.dockerignore" -f "$dockerfile" "$@" .
}
bud "${mounts[@]}" --target runtime -t "$image:latest"
bud --target convert -t "$image:convert"
buildah images --filter "reference=$image"
