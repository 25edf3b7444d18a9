#!/usr/bin/env bash
# make image-test: runs the images that `make image` built, as a user would
# (docker run, or buildah run where no Docker engine answers):
#   $IMAGE:latest   every library of qat resolves inside the image (the
#                   image's own ld.so --list), the image is no larger than the
#                   two TF libraries + 75 MB, qat trains a small 8-bit QAT CNN
#                   on MNIST (200 steps) and exports a SavedModel: the files
#                   are there and metrics.json's fake-quant accuracy is >= 0.85;
#                   qat eval loads the SavedModel and gets that same accuracy;
#                   qat worker serves a one-task cluster (says "serving
#                   /job:worker/task:0 at grpc://localhost:PORT", holds the
#                   port against a second qat worker) and exits 143 on SIGTERM
#   $IMAGE:convert  qat convert --int8-io of that SavedModel: int8 in and out,
#                   integer ops, a .tflite file
# The runtime image runs as its own user (nonroot) in a folder mounted at /work.
set -euo pipefail
image=${IMAGE:-qat-go/qat}
min_accuracy=0.85
budget_mb=75 # the runtime image may exceed its two TF libraries by this much (63 MB measured at 512edc5: Debian slim, the stripped qat binary with its gRPC serving, Prometheus and plotting)

log() { echo "make image-test: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }
step() { printf '\n== %s\n' "$*" >&2; }

work=$(mktemp -d /var/tmp/qat-image-test.XXXXXX)
chmod 0777 "$work" # the runtime image's user (65532) writes here
ctrs=()
wctr= wpid= # the qat worker's container (docker) or buildah run process
cleanup() {
  [ -z "$wctr" ] || docker rm -f "$wctr" >/dev/null 2>&1 || true
  [ -z "$wpid" ] || kill -TERM $(qat_under "$wpid") 2>/dev/null || true
  for c in "${ctrs[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
  engine=docker
  for t in latest convert; do
    docker image inspect "$image:$t" >/dev/null 2>&1 || die "no image $image:$t: run make image first"
  done
  # run IMAGE ENTRYPOINT ARGS...: the image's user and working folder.
  run() {
    local img=$1 entry=$2
    shift 2
    docker run --rm --network none -v "$work:/work" --entrypoint "$entry" "$img" "$@"
  }
  # start_worker ARGS...: qat ARGS in the runtime image, in the background.
  start_worker() { wctr=$(docker run -d --network none "$image:latest" "$@"); }
  worker_log() { docker logs "$wctr" 2>&1; }
  worker_again() { docker exec "$wctr" /usr/local/bin/qat "$@"; } # in the worker's network
  stop_worker() { # SIGTERM to the container's qat (its PID 1); its exit code in wrc
    docker stop -t 60 "$wctr" >/dev/null
    wrc=$(docker wait "$wctr")
    docker rm "$wctr" >/dev/null
    wctr=
  }
  image_bytes() { docker image inspect -f '{{.Size}}' "$1"; }
  lib_bytes() { # the two libraries, copied out of a stopped container
    local c
    c=$(docker create "$1")
    docker cp "$c:/usr/local/lib/." "$work/.libs" >/dev/null
    docker rm "$c" >/dev/null
    du -cb "$work"/.libs/libtensorflow_*.so.2 | awk 'END {print $1}'
    rm -rf "$work/.libs"
  }
else
  engine=buildah
  export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}
  # One working container per image, made here (not in the $(...) subshells
  # that call run) and removed at the end.
  declare -A ctr_of
  for t in latest convert; do
    buildah inspect --type image "$image:$t" >/dev/null 2>&1 || die "no image $image:$t: run make image first"
    ctr_of[$image:$t]=$(buildah from --pull=never "$image:$t")
    ctrs+=("${ctr_of[$image:$t]}")
  done
  run() { # run IMAGE CMD ARGS...: as the image's user, in its working folder
    local c=${ctr_of[$1]}
    shift
    buildah run --network none -v "$work:/work" "$c" -- "$@"
  }
  start_worker() {
    buildah run --network none "${ctr_of[$image:latest]}" -- /usr/local/bin/qat "$@" >"$work/worker.log" 2>&1 &
    wpid=$!
  }
  worker_log() { cat "$work/worker.log"; }
  # Chroot isolation keeps the host's network: a second run shares the port.
  worker_again() { run "$image:latest" /usr/local/bin/qat "$@"; }
  stop_worker() { # buildah run passes no signal on: SIGTERM to its qat, whose exit code it returns
    wrc=0
    kill -TERM $(qat_under "$wpid")
    wait "$wpid" || wrc=$?
    wpid=
  }
  image_bytes() { # the files in the image (`buildah images` rounds this)
    local root
    root=$(buildah mount "${ctr_of[$1]}")
    du -sb "$root" | awk '{print $1}'
    buildah umount "${ctr_of[$1]}" >/dev/null
  }
  lib_bytes() {
    local root
    root=$(buildah mount "${ctr_of[$1]}")
    du -cb "$root"/usr/local/lib/libtensorflow_*.so.2 | awk 'END {print $1}'
    buildah umount "${ctr_of[$1]}" >/dev/null
  }
fi
# qat_under PID: the process named qat among PID's descendants.
qat_under() {
  local p
  for p in $(ps -o pid= --ppid "$1"); do
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = qat ]; then echo "$p"; else qat_under "$p"; fi
  done
}
log "testing $image:latest and $image:convert with $engine"
t0=$SECONDS

step "runtime: the image's dynamic loader lists qat's libraries"
ldd_out=$(run "$image:latest" /lib64/ld-linux-x86-64.so.2 --list /usr/local/bin/qat 2>&1) || true
echo "$ldd_out"
! grep -q "not found" <<<"$ldd_out" || die "a library of qat is missing in $image:latest"
for lib in libtensorflow_cc.so.2 libtensorflow_framework.so.2 libstdc++.so.6 libgcc_s.so.1 libc.so.6; do
  grep -q "$lib => /" <<<"$ldd_out" || die "$lib does not resolve in $image:latest"
done

step "runtime: size"
img=$(image_bytes "$image:latest")
libs=$(lib_bytes "$image:latest")
awk -v i="$img" -v l="$libs" -v b="$budget_mb" 'BEGIN {
  printf "image %.1f MB = TF libraries %.1f MB + %.1f MB (budget %d MB)\n", i/1e6, l/1e6, (i-l)/1e6, b
  exit (i - l > b * 1e6) }' || die "$image:latest is more than $budget_mb MB over its TF libraries"

step "runtime: qat version"
run "$image:latest" /usr/local/bin/qat version 2>/dev/null

step "runtime: qat train (8-bit QAT CNN, MNIST, 200 steps)"
cat >"$work/cnn.yaml" <<'EOF'
input: [28, 28, 1]
data: {mnist: true}
seed: 1
batch_size: 64
steps: 200
optimizer: {name: adam, learning_rate: 0.001}
scheme: {input_bits: 8, default: {weight_bits: 8, activation_bits: 8}}
layers:
  - {type: conv2d, name: c1, filters: 8, kernel: [3, 3], activation: relu}
  - {type: max_pool, name: p1}
  - {type: conv2d, name: c2, filters: 16, kernel: [3, 3], activation: relu}
  - {type: flatten, name: f}
  - {type: dense, name: d, units: 10}
EOF
s=$SECONDS
run "$image:latest" /usr/local/bin/qat train --config cnn.yaml --threads 2 --out run 2>&1 | tail -4
echo "($((SECONDS - s)) s)"
for f in weights.npz ranges.npz config.yaml metrics.json losses.csv; do
  [ -s "$work/run/$f" ] || die "qat train wrote no run/$f"
done
cat "$work/run/metrics.json"
echo
python3 - "$work/run/metrics.json" "$min_accuracy" <<'EOF' || die "fake-quant accuracy below $min_accuracy"
import json, math, sys
m = json.load(open(sys.argv[1]))
acc, fl = m["fake_quant_accuracy"], m["float_accuracy"]
print("fake-quant accuracy %.4f, float %.4f on %d test images" % (acc, fl, m["test_examples"]))
sys.exit(0 if math.isfinite(acc) and float(sys.argv[2]) <= acc <= 1 and m["test_examples"] == 10000 else 1)
EOF

step "runtime: qat export"
run "$image:latest" /usr/local/bin/qat export --from run 2>&1 | tail -2
for f in saved_model.pb variables/variables.index variables/variables.data-00000-of-00001; do
  [ -s "$work/run/saved_model/$f" ] || die "qat export wrote no saved_model/$f"
done
ls -l "$work/run/saved_model" "$work/run/saved_model/variables"

step "runtime: qat eval (the SavedModel, loaded by Go, on the 10,000 test images)"
out=$(run "$image:latest" /usr/local/bin/qat eval --saved-model run/saved_model --threads 2 --json 2>/dev/null) ||
  die "qat eval failed"
echo "$out"
python3 - "$out" "$work/run/metrics.json" <<'EOF' || die "the SavedModel's accuracy differs from the trained model's"
import json, sys
ev, m = json.loads(sys.argv[1]), json.load(open(sys.argv[2]))
print("SavedModel accuracy %.4f, trained model (metrics.json) %.4f" % (ev["accuracy"], m["fake_quant_accuracy"]))
sys.exit(0 if ev["test_examples"] == 10000 and ev["accuracy"] == m["fake_quant_accuracy"] else 1)
EOF

step "runtime: qat worker (a one-task cluster, then SIGTERM)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
task=(worker --cluster "worker=localhost:$port" --job worker --task 0)
start_worker "${task[@]}"
for _ in $(seq 120); do
  grep -q '^serving ' <(worker_log) && break
  sleep 0.5
done
worker_log
grep -qx "serving /job:worker/task:0 at grpc://localhost:$port" <(worker_log) || die "qat worker did not say it serves /job:worker/task:0"
rc=0
out=$(worker_again "${task[@]}" 2>&1) || rc=$?
echo "a second qat worker on port $port: exit code $rc, $(grep -o "port $port is in use" <<<"$out")"
[ "$rc" = 1 ] && grep -q "port $port is in use" <<<"$out" || die "a second qat worker on port $port: exit code $rc, want 1 and \"port $port is in use\": $out"
stop_worker # not in a subshell: it waits for its own child
echo "qat worker: exit code $wrc after SIGTERM"
[ "$wrc" = 143 ] || die "qat worker exited $wrc after SIGTERM, want 143"

step "convert: qat convert --int8-io"
s=$SECONDS
out=$(run "$image:convert" /usr/local/bin/qat convert --saved-model run/saved_model --int8-io 2>&1) ||
  { echo "$out"; die "qat convert failed"; }
echo "$out" | tail -3
echo "($((SECONDS - s)) s)"
[ -s "$work/run/saved_model.tflite" ] || die "qat convert wrote no run/saved_model.tflite"
python3 - "$out" <<'EOF' || die "the TFLite model is not int8 in and out"
import json, sys
s = sys.argv[1]
info = json.loads(s[s.index("{"):])
io = [d["dtype"] for d in info["inputs"] + info["outputs"]]
print("TFLite: %d bytes, io %s, ops %s" % (info["bytes"], io, ", ".join(info["ops"])))
sys.exit(0 if io == ["int8", "int8"] and info["bytes"] > 0 else 1)
EOF

log "ok ($((SECONDS - t0)) s)"
