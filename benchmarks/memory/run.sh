#!/usr/bin/env bash
# Memory of one gateway by number of configured peers (issue 12): for each N, `dctun up` (the real
# launcher, with its JVM flags) runs in a network namespace of its own with N dial-in-only peers
# (random public keys, one /32 each from 198.18.128.0/17); once up and settled, a full GC (jcmd)
# and then the heap in use, the heap committed and the resident set size are read.
#
# Usage (root): benchmarks/memory/run.sh [N ...]   (default: 1 100 1000 10000)
# DCTUN_JAVA_OPTS is passed to the launcher, to measure a setting (e.g. -Xmx256m).
# Only namespaces this script creates are used, and they are removed on exit.
set -euo pipefail
here=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
root=$(readlink -f -- "$here/../..")
counts=("$@")
(( ${#counts[@]} > 0 )) || counts=(1 100 1000 10000)
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces, TUN)" >&2; exit 2; }
work=$(mktemp -d /tmp/dctun-mem.XXXXXX)
chmod 700 "$work"
ns=dm$(printf '%04x' $((RANDOM)))
pid=""
cleanup() {
  set +e
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
"$root/dctun" genkey >"$work/gw.key" 2>/dev/null
chmod 600 "$work/gw.key"
jcmd=""
for j in /usr/lib/jvm/*/bin/jcmd; do jcmd=$j; done
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "launcher JVM options: ${DCTUN_JAVA_OPTS:-(only the launcher defaults)}"
printf '| peers | heap used after GC MiB | heap committed MiB | RSS MiB | start s |\n|---:|---:|---:|---:|---:|\n'
for n in "${counts[@]}"; do
  python3 - "$n" "$work" <<'PY'
import base64, os, sys
n, work = int(sys.argv[1]), sys.argv[2]
with open(os.path.join(work, "gw.yaml"), "w") as f:
    f.write(f"interface: dm0\nprivate-key-file: {work}/gw.key\nlisten-port: 51820\naddresses: [198.19.0.1/16]\n")
    f.write("uapi: false\npeers:\n")
    for i in range(n):
        a = 128 * 256 + i  # 198.18.128.0 upwards
        key = base64.b64encode(os.urandom(32)).decode()
        f.write(f"  - public-key: {key}\n    allowed-ips: [198.18.{a >> 8}.{a & 255}/32]\n")
PY
  rm -f "$work/status"
  t0=$(date +%s.%N)
  ip netns exec "$ns" "$root/dctun" up -c "$work/gw.yaml" --status-file "$work/status" >"$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    grep -qs '^listen ' "$work/status" && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    sleep 0.1
  done
  t1=$(date +%s.%N)
  sleep 5 # settle: the first status writes, timers
  jpid=$(pgrep -P "$pid" java || echo "$pid")
  [[ -d /proc/$jpid ]] || jpid=$pid
  "$jcmd" "$jpid" GC.run >/dev/null
  heap=$("$jcmd" "$jpid" GC.heap_info | grep -m1 -E 'heap +total' )
  used=$(sed -E 's/.*used ([0-9]+)K.*/\1/' <<<"$heap")
  committed=$(sed -E 's/.*committed ([0-9]+)K.*/\1/; s/.*total ([0-9]+)K.*/\1/' <<<"$heap")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$jpid/status")
  printf '| %d | %.1f | %.1f | %.1f | %.1f |\n' "$n" "$(bc -l <<<"$used/1024")" "$(bc -l <<<"$committed/1024")" \
    "$(bc -l <<<"$rss/1024")" "$(bc -l <<<"$t1 - $t0")"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
