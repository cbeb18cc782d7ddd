#!/usr/bin/env bash
# Build docker/Dockerfile with podman and check the image as a user would: `fem-spin info`,
# the slab demo on 2 ranks writing into a mounted folder owned by the host user, and the test
# suite (serial, then the MPI tests on 2 ranks). Prints the build time, image size and times.
# Needs root and podman (installed by the base script); not part of .ci/run (minutes, root).
#   bash docker/verify.sh            # PODMAN_BASE=path/to/podman-base.sh to use another
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${PODMAN_BASE:-../shared/tools/podman-base.sh}
TAG=${TAG:-fem-spin:verify}
export CONTAINERS_CONF=${PODMAN_WORK:-/var/tmp/podman-base}/containers.conf
t() { date +%s; }

t0=$(t)
bash "$BASE" build . docker/Dockerfile "$TAG" trixie
t1=$(t)
echo "== build: $((t1 - t0)) s; image size: $(podman image inspect "$TAG" --format '{{.Size}}' \
    | awk '{printf "%.0f MB", $1 / 1e6}')"

out=$(mktemp -d /tmp/fem-spin-verify.XXXXXX)
trap 'rm -rf "$out"' EXIT
run() { podman run --rm --network host --user "$(id -u):$(id -g)" -e HOME=/tmp -v "$out:/out" "$TAG" "$@"; }

echo "== fem-spin info"
run fem-spin info
t2=$(t)
echo "== mpirun -n 2 fem-spin run demos/slab.toml -o /out/slab (mounted folder)"
run mpirun -n 2 fem-spin run /opt/fem_spin/demos/slab.toml -o /out/slab
t3=$(t)
ls -ln "$out/slab"
owner=$(stat -c '%u:%g' "$out/slab/summary.json")
[ "$owner" = "$(id -u):$(id -g)" ] || { echo "result owned by $owner, not the host user"; exit 1; }
echo "== demo: $((t3 - t2)) s, files owned by the host user ($owner)"

echo "== tests in the container (as the image's user)"
podman run --rm --network host "$TAG" bash -c '
    set -e; cp -r /opt/fem_spin /tmp/fem_spin; cd /tmp/fem_spin
    python -m pytest -q -p no:cacheprovider tests
    mpirun -n 2 python -m mpi4py -m pytest -q -p no:cacheprovider -m mpi tests'
t4=$(t)
echo "== tests: $((t4 - t3)) s; total $((t4 - t0)) s"
