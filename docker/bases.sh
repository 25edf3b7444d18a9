#!/usr/bin/env bash
# Builds, in buildah's local storage, the base images that docker/Dockerfile
# names in its FROM lines, for machines that cannot pull them from a registry.
# Each is tagged with its official name, so the Dockerfile stays the one a
# user builds with `docker build`; one that is already there is kept.
#
#   debian:bookworm-slim             debootstrap --variant=minbase bookworm,
#                                    slimmed as the official image is
#   golang:1.26-bookworm             that + gcc, make, git, ... + a Go toolchain
#                                    (the machine's, when it is the go.mod
#                                    version's minor, else golang.org/toolchain
#                                    from the Go module proxy), ENV as upstream
#   gcr.io/distroless/cc-debian12*   Debian's .debs that distroless cc puts in
#                                    (libc6, libgcc-s1, libgomp1, libstdc++6,
#                                    libssl3, base-files, netbase, tzdata,
#                                    ca-certificates) unpacked with dpkg-deb -x,
#                                    plus passwd/group with root, nobody,
#                                    nonroot (65532); the :nonroot tag runs as
#                                    65532 in /home/nonroot
#
# Usage: docker/bases.sh [Dockerfile]   (needs root, buildah, debootstrap)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
dockerfile=${1:-$here/Dockerfile}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# crun cannot run containers on this kind of host (cgroups v1/v2 hybrid);
# chroot isolation needs no OCI runtime and is what buildah uses in CI jobs.
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

log() { echo "docker/bases.sh: $*" >&2; }
die() { log "$*"; exit 1; }

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# The FROM images of the Dockerfile that are not its own stages.
froms() {
  awk 'toupper($1) == "FROM" {
         img = ""; stage = ""
         for (i = 2; i <= NF; i++) {
           if ($i ~ /^--/) continue
           if (img == "") { img = $i; continue }
           if (toupper($i) == "AS") { stage = $(i + 1); break }
         }
         if (!(img in stages)) print img
         if (stage != "") stages[stage] = 1
       }' "$1"
}

# The same name in the fully qualified form buildah stores.
qualified() {
  local n=$1
  case $n in
    */*.*/* | *.*/* | localhost/*) ;;
    */*) n=docker.io/$n ;;
    *) n=docker.io/library/$n ;;
  esac
  case ${n##*/} in *:*) ;; *) n=$n:latest ;; esac
  echo "$n"
}

ctr=""
cleanup() {
  if [ -n "$ctr" ]; then
    buildah umount "$ctr" >/dev/null 2>&1 || true
    buildah rm "$ctr" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# debian:bookworm-slim: minbase debootstrap, then what debuerreotype's slimify
# does (no docs but copyright, no man pages, no locales; dpkg keeps it so).
build_debian_slim() {
  local name=$1 root
  command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
  ctr=$(buildah from scratch)
  root=$(buildah mount "$ctr")
  log "$name: debootstrap --variant=minbase $suite from $mirror"
  debootstrap --variant=minbase --merged-usr "$suite" "$root" "$mirror" >/tmp/qat-debootstrap.log 2>&1 ||
    { tail -20 /tmp/qat-debootstrap.log >&2; die "debootstrap failed (log: /tmp/qat-debootstrap.log)"; }
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# As in the official debian:*-slim images (debuerreotype --slimify).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  echo 'APT::Install-Recommends "false";' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/{man,groff,info,lintian,linda}/* "$root"/var/lib/apt/lists/* \
    "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log \
    "$root"/var/log/apt/* "$root"/tmp/* "$root"/etc/hostname "$root"/etc/resolv.conf
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  : >"$root/etc/machine-id"
  buildah umount "$ctr" >/dev/null
  buildah config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
  buildah commit --rm -q "$ctr" "$name" >/dev/null
  ctr=""
}

# The Go toolchain for golang:MAJOR.MINOR-*: the machine's GOROOT when its
# version has that prefix, else the go.mod version from the module proxy.
go_root() {
  local want=$1 have goroot modver proxy zip dir
  if command -v go >/dev/null && have=$(go env GOVERSION 2>/dev/null) &&
    [[ $have == go$want || $have == go$want.* ]]; then
    goroot=$(go env GOROOT)
    echo "$goroot"
    return
  fi
  modver=$(awk '$1 == "go" {print $2; exit}' "$top/go.mod")
  [[ $modver == $want || $modver == $want.* ]] || modver=$want.0
  proxy=${GOPROXY:-https://proxy.golang.org}
  proxy=${proxy%%[,|]*}
  [[ $proxy == off || $proxy == direct ]] && proxy=https://proxy.golang.org
  dir=/var/tmp/qat-go-toolchain/go$modver
  if [ ! -x "$dir/bin/go" ]; then
    zip=/var/tmp/qat-go-toolchain/go$modver.zip
    mkdir -p /var/tmp/qat-go-toolchain
    log "fetching golang.org/toolchain v0.0.1-go$modver.linux-amd64 from $proxy"
    curl -fsSL -o "$zip" "$proxy/golang.org/toolchain/@v/v0.0.1-go$modver.linux-amd64.zip" ||
      die "could not fetch the Go $modver toolchain from $proxy"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    python3 -m zipfile -e "$zip" "$dir.tmp"
    mv "$dir.tmp/golang.org/toolchain@v0.0.1-go$modver.linux-amd64" "$dir"
    chmod -R a+rX "$dir" && chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/*
    rm -rf "$dir.tmp" "$zip"
  fi
  echo "$dir"
}

# golang:X-bookworm: as the official image (buildpack-deps:bookworm-scm's
# tools, gcc/g++/make/pkg-config, Go in /usr/local/go, GOPATH /go,
# GOTOOLCHAIN=local), on our debian:bookworm-slim.
build_golang() {
  local name=$1 tag want goroot root version slim
  tag=${name##*:}
  want=${tag%%-*}
  slim=$(qualified debian:$suite-slim)
  have_image "$slim" || build_debian_slim "$slim"
  goroot=$(go_root "$want")
  version=$("$goroot/bin/go" env GOVERSION)
  log "$name: $slim + build tools + $version from $goroot"
  ctr=$(buildah from --pull=never "$slim")
  buildah run --network host "$ctr" -- sh -c '
    set -e
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates curl git gnupg netbase openssh-client procps wget \
      g++ gcc libc6-dev make pkg-config binutils >/dev/null
    rm -rf /var/lib/apt/lists/*
    mkdir -p /go/src /go/bin && chmod -R 1777 /go' >&2
  root=$(buildah mount "$ctr")
  mkdir -p "$root/usr/local/go"
  cp -a "$goroot/." "$root/usr/local/go/"
  rm -rf "$root/usr/local/go/pkg/obj" "$root/usr/local/go/.git"
  buildah umount "$ctr" >/dev/null
  buildah config \
    --env GOLANG_VERSION="${version#go}" --env GOTOOLCHAIN=local --env GOPATH=/go \
    --env PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --workingdir /go --cmd bash "$ctr"
  buildah commit --rm -q "$ctr" "$name" >/dev/null
  ctr=""
}

# gcr.io/distroless/cc-debian12: the .debs distroless' cc image is made of,
# downloaded by apt in our debian:bookworm-slim and unpacked with dpkg-deb -x
# (no maintainer scripts run, as in distroless), no shell, no apt, no dpkg.
build_distroless_cc() {
  local name=$1 tag slim debs root deb pkg
  tag=${name##*:}
  slim=$(qualified debian:$suite-slim)
  have_image "$slim" || build_debian_slim "$slim"
  debs=$(mktemp -d /var/tmp/qat-distroless.XXXXXX)
  chmod 0777 "$debs" # apt downloads as _apt
  log "$name: Debian .debs of libc6 libgcc-s1 libgomp1 libstdc++6 libssl3 base-files netbase tzdata ca-certificates"
  ctr=$(buildah from --pull=never "$slim")
  buildah run --network host -v "$debs:/debs" "$ctr" -- sh -c '
    set -e
    apt-get update -qq
    cd /debs
    apt-get download -qq base-files netbase tzdata ca-certificates libc6 libssl3 libgcc-s1 libgomp1 libstdc++6' >&2
  buildah rm "$ctr" >/dev/null
  ctr=$(buildah from scratch)
  root=$(buildah mount "$ctr")
  mkdir -p "$root/var/lib/dpkg/status.d"
  for deb in "$debs"/*.deb; do
    pkg=$(dpkg-deb -f "$deb" Package)
    dpkg-deb -x "$deb" "$root"
    dpkg-deb -f "$deb" >"$root/var/lib/dpkg/status.d/$pkg"
  done
  rm -rf "$debs"
  # What the packages' maintainer scripts would have made.
  mkdir -p "$root/etc/ssl/certs"
  find "$root/usr/share/ca-certificates" -name '*.crt' | sort | xargs cat >"$root/etc/ssl/certs/ca-certificates.crt"
  ln -sf /usr/share/zoneinfo/Etc/UTC "$root/etc/localtime"
  echo Etc/UTC >"$root/etc/timezone"
  # distroless' users and folders.
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
  install -d -m 0700 "$root/root"
  install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
  install -d -m 1777 "$root/tmp"
  rm -rf "$root"/usr/share/{man,info,lintian,doc-base,bug} "$root"/etc/init.d "$root"/etc/default \
    "$root"/usr/sbin/update-ca-certificates "$root"/usr/sbin/tzconfig
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  buildah umount "$ctr" >/dev/null
  local user=0 home=/root
  if [ "$tag" = nonroot ] || [[ $tag == *-nonroot ]]; then user=65532 home=/home/nonroot; fi
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --user "$user" --workingdir "$home" "$ctr"
  buildah commit --rm -q "$ctr" "$name" >/dev/null
  ctr=""
}

[ "$(id -u)" = 0 ] || die "needs root (buildah's storage and debootstrap)"
command -v buildah >/dev/null || die "buildah not found (apt-get install buildah)"
for img in $(froms "$dockerfile"); do
  name=$(qualified "$img")
  if have_image "$name"; then
    continue
  fi
  case $name in
    docker.io/library/debian:$suite-slim) build_debian_slim "$name" ;;
    docker.io/library/golang:*-$suite) build_golang "$name" ;;
    gcr.io/distroless/cc-debian12:*) build_distroless_cc "$name" ;;
    *) die "$img is not in local storage and this script does not know how to build it" ;;
  esac
  log "built $name ($(buildah images --format '{{.Size}}' "$name"))"
done
