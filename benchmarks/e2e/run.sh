#!/usr/bin/env bash
# End-to-end benchmark: two sites in network namespaces, measured side by side.
#
#   srvA --lan-- gwA ==wan== gwB --lan-- srvB
#   198.18.210.10   .1  198.18.200.1/.2  .1  198.18.220.10
#
# For each tunnel (none, dctun, wireguard-go, OpenVPN AES-256-GCM over UDP) and each round,
# it measures single-stream TCP throughput srvA->srvB and srvB->srvA with iperf3, ping RTT
# srvA->srvB, and the CPU seconds the tunnel processes used during the throughput runs.
# Tunnels are interleaved within each round so that machine noise hits all of them alike.
# It prints medians and the ratios dctun/wireguard-go and dctun/OpenVPN.
#
# Usage (root): benchmarks/e2e/run.sh [ROUNDS (default 3)] [SECONDS per iperf3 run (default 8)]
# WARMUP=S sets the unmeasured warm-up per direction (default 2 s).
# TUNNELS="none dctun dctun-nio dctun-java wireguard-go openvpn" selects and orders the tunnels
# (also dctun-tcp, dctun-tls: WireGuard over TCP / TLS only; openvpn-tcp: OpenVPN over TCP)
# measured (dctun-nio: dctun with the plain JDK DatagramChannel instead of Netty/epoll;
# dctun-java: dctun with its own allocation-free ChaCha20-Poly1305, -Ddctun.aead=java;
# dctun-x: dctun with the JVM options in DCTUN_X_OPTS, to measure one setting against the default;
# dctun@OPT,OPT: dctun with those JVM options, e.g. dctun@-Ddctun.udp.receiveBufferBytes=262144).
# Only 198.18.0.0/15 addresses are used, only inside namespaces this script creates, and
# everything is removed on exit, also on failure.
set -euo pipefail

ROUNDS=${1:-3}
SECS=${2:-8}
here=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
root=$(readlink -f -- "$here/../..")
id=$(printf '%04x' $((RANDOM)))
work=$(mktemp -d /tmp/dctun-bench.XXXXXX)
chmod 700 "$work"
NS_SA=db${id}sa NS_GA=db${id}ga NS_GB=db${id}gb NS_SB=db${id}sb
PIDS=()

for tool in iperf3 wireguard-go wg openvpn openssl ip ping; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install iperf3 wireguard-go wireguard-tools openvpn openssl iproute2 iputils-ping)" >&2; exit 2; }
done
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 2; }

cleanup() {
  set +e
  stop_tunnel >/dev/null 2>&1
  for ns in $NS_SA $NS_GA $NS_GB $NS_SB; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

x() { ip netns exec "$@"; }

# ---------------------------------------------------------------- topology
for ns in $NS_SA $NS_GA $NS_GB $NS_SB; do ip netns add "$ns"; x "$ns" ip link set lo up; done
link() { # ns1 if1 addr1 ns2 if2 addr2
  ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
  x "$1" ip addr add "$3" dev "$2"; x "$4" ip addr add "$6" dev "$5"
  x "$1" ip link set "$2" up; x "$4" ip link set "$5" up
}
link $NS_SA lan0 198.18.210.10/24 $NS_GA lan0 198.18.210.1/24
link $NS_GA wan0 198.18.200.1/24 $NS_GB wan0 198.18.200.2/24
link $NS_SB lan0 198.18.220.10/24 $NS_GB lan0 198.18.220.1/24
for ns in $NS_GA $NS_GB; do x $ns sysctl -qw net.ipv4.ip_forward=1; done
x $NS_SA ip route add 198.18.220.0/24 via 198.18.210.1
x $NS_SB ip route add 198.18.210.0/24 via 198.18.220.1
# The iperf3 servers (daemons): started here, and again before a measurement if one has exited
# (under load an iperf3 server can end on an error of the test before).
iperf_servers() {
  local ns addr
  for ns_addr in "$NS_SB:198.18.220.10" "$NS_SA:198.18.210.10"; do
    ns=${ns_addr%%:*} addr=${ns_addr#*:}
    if ! { [[ -f $work/iperf-$ns.pid ]] && kill -0 "$(cat "$work/iperf-$ns.pid")" 2>/dev/null; }; then
      x "$ns" iperf3 -s -D -B "$addr" -I "$work/iperf-$ns.pid" >/dev/null
      for _ in $(seq 50); do [[ -s $work/iperf-$ns.pid ]] && break; sleep 0.1; done
    fi
  done
}
iperf_servers

# ---------------------------------------------------------------- tunnels
umask 077
"$root/dctun" genkey >"$work/a.key"
"$root/dctun" genkey >"$work/b.key"
PUB_A=$("$root/dctun" pubkey <"$work/a.key")
PUB_B=$("$root/dctun" pubkey <"$work/b.key")

gw_route() { # via-dev-A via-dev-B  (site routes through the tunnel)
  x $NS_GA ip route replace 198.18.220.0/24 dev "$1"
  x $NS_GB ip route replace 198.18.210.0/24 dev "$2"
}

start_none() {
  x $NS_GA ip route replace 198.18.220.0/24 via 198.18.200.2
  x $NS_GB ip route replace 198.18.210.0/24 via 198.18.200.1
}

start_dctun() {
  cat >"$work/a.yaml" <<EOF
interface: dbt0
private-key-file: a.key
listen-port: 51820
addresses: [198.19.200.1/24]
peers:
  - name: b
    public-key: $PUB_B
    endpoint: 198.18.200.2:51820
    allowed-ips: [198.18.220.0/24, 198.19.200.2/32]
EOF
  cat >"$work/b.yaml" <<EOF
interface: dbt0
private-key-file: b.key
listen-port: 51820
addresses: [198.19.200.2/24]
peers:
  - name: a
    public-key: $PUB_A
    endpoint: 198.18.200.1:51820
    allowed-ips: [198.18.210.0/24, 198.19.200.1/32]
EOF
  x $NS_GA env DCTUN_JAVA_OPTS="${1:-}" "$root/dctun" up -c "$work/a.yaml" >"$work/dctun-a.log" 2>&1 & PIDS+=($!)
  x $NS_GB env DCTUN_JAVA_OPTS="${1:-}" "$root/dctun" up -c "$work/b.yaml" >"$work/dctun-b.log" 2>&1 & PIDS+=($!)
  wait_link $NS_GA dbt0 up; wait_link $NS_GB dbt0 up
}

start_dctun_stream() { # tcp|tls: WireGuard over TCP (or TLS) only: A dials B's listen port 8443
  local carrier=$1
  cat >"$work/a.yaml" <<EOF
interface: dbt0
private-key-file: a.key
listen-port: 51820
addresses: [198.19.200.1/24]
peers:
  - name: b
    public-key: $PUB_B
    endpoint: $carrier://198.18.200.2:8443
    allowed-ips: [198.18.220.0/24, 198.19.200.2/32]
EOF
  cat >"$work/b.yaml" <<EOF
interface: dbt0
private-key-file: b.key
listen-port: 51820
listen-$carrier: 8443
addresses: [198.19.200.2/24]
peers:
  - name: a
    public-key: $PUB_A
    allowed-ips: [198.18.210.0/24, 198.19.200.1/32]
EOF
  x $NS_GB "$root/dctun" up -c "$work/b.yaml" >"$work/dctun-b.log" 2>&1 & PIDS+=($!)
  wait_link $NS_GB dbt0 up
  x $NS_GA "$root/dctun" up -c "$work/a.yaml" >"$work/dctun-a.log" 2>&1 & PIDS+=($!)
  wait_link $NS_GA dbt0 up
}

start_wggo() {
  # wg finds wireguard-go through /var/run/wireguard/IFNAME.sock, shared by all namespaces:
  # the two sides need different interface names.
  for side in a b; do
    local ns key peer ep me allowed dev=dbw${side}${id}
    if [[ $side == a ]]; then ns=$NS_GA key=a.key peer=$PUB_B ep=198.18.200.2 me=198.19.201.1 allowed=198.18.220.0/24,198.19.201.2/32
    else ns=$NS_GB key=b.key peer=$PUB_A ep=198.18.200.1 me=198.19.201.2 allowed=198.18.210.0/24,198.19.201.1/32; fi
    WG_PROCESS_FOREGROUND=1 x $ns wireguard-go -f $dev >"$work/wg-$side.log" 2>&1 & PIDS+=($!)
    wait_link $ns $dev
    for _ in $(seq 50); do x $ns wg show $dev >/dev/null 2>&1 && break; sleep 0.1; done
    x $ns wg set $dev private-key "$work/$key" listen-port 51821 peer "$peer" endpoint $ep:51821 allowed-ips $allowed
    x $ns ip addr add $me/24 dev $dev
    x $ns ip link set $dev mtu 1420 up
  done
}

start_openvpn() { # [udp|tcp]
  local proto=${1:-udp} pa pb
  if [[ ! -f $work/ca.crt ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench-ca \
      -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
    for n in a b; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=$n \
        -keyout "$work/$n.ovpn.key" -out "$work/$n.csr" 2>/dev/null
      openssl x509 -req -in "$work/$n.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
        -out "$work/$n.crt" 2>/dev/null
    done
  fi
  local common=(--dev-type tun --cipher AES-256-GCM --data-ciphers AES-256-GCM --disable-dco
    --ca "$work/ca.crt" --dh none --verb 1 --tun-mtu 1420 --sndbuf 4194304 --rcvbuf 4194304)
  if [[ $proto == tcp ]]; then # A listens, B connects
    pa=(--proto tcp-server --local 198.18.200.1 --lport 1194)
    pb=(--proto tcp-client --remote 198.18.200.1 --rport 1194)
  else
    pa=(--proto udp --local 198.18.200.1 --lport 1194 --remote 198.18.200.2 --rport 1194)
    pb=(--proto udp --local 198.18.200.2 --lport 1194 --remote 198.18.200.1 --rport 1194)
  fi
  x $NS_GA openvpn "${common[@]}" "${pa[@]}" --dev dbo${id} --tls-server --cert "$work/a.crt" \
    --key "$work/a.ovpn.key" --ifconfig 198.19.202.1 198.19.202.2 >"$work/ovpn-a.log" 2>&1 & PIDS+=($!)
  x $NS_GB openvpn "${common[@]}" "${pb[@]}" --dev dbo${id} --tls-client --cert "$work/b.crt" \
    --key "$work/b.ovpn.key" --ifconfig 198.19.202.2 198.19.202.1 >"$work/ovpn-b.log" 2>&1 & PIDS+=($!)
  wait_link $NS_GA dbo${id} up; wait_link $NS_GB dbo${id} up
}

wait_link() {
  # With "up": up, not only there (a route through a link that is still down is refused).
  for _ in $(seq 300); do x "$1" ip link show "$2" ${3:-} 2>/dev/null | grep -q . && return 0; sleep 0.1; done
  echo "timed out waiting for $2 in $1" >&2; return 1
}

stop_tunnel() {
  # Every process in the gateway namespaces is a tunnel process: SIGTERM them all (a clean
  # shutdown), wait up to 5 s, then SIGKILL what is left. ($! of a backgrounded function is a
  # subshell, not the tunnel, so the namespaces are the reliable handle.)
  local ns p left
  for ns in $NS_GA $NS_GB; do for p in $(ip netns pids $ns 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done; done
  for _ in $(seq 50); do
    left=0
    for ns in $NS_GA $NS_GB; do [[ -n $(ip netns pids $ns 2>/dev/null) ]] && left=1; done
    (( left == 0 )) && break
    sleep 0.1
  done
  for ns in $NS_GA $NS_GB; do for p in $(ip netns pids $ns 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done; done
  PIDS=()
  # Only the far site's route: the near site's is the LAN's connected route.
  x $NS_GA ip route del 198.18.220.0/24 2>/dev/null || true
  x $NS_GB ip route del 198.18.210.0/24 2>/dev/null || true
}

# CPU seconds (user+system) of every process in the two gateway namespaces.
cpu_ticks() {
  local t=0 p s
  for ns in $NS_GA $NS_GB; do
    for p in $(ip netns pids $ns); do
      s=$(awk '{print $14+$15+$16+$17}' /proc/$p/stat 2>/dev/null || echo 0)
      t=$((t + s))
    done
  done
  echo $t
}

gbps() { # iperf3 -J on stdin -> Gbit/s received; says why when iperf3 failed
  python3 -c 'import json,sys
j = json.load(sys.stdin)
if "error" in j or "sum_received" not in j.get("end", {}):
    sys.exit("iperf3 failed: " + str(j.get("error", "no result")))
print(j["end"]["sum_received"]["bits_per_second"] / 1e9)'
}

ready() { # wait until srvA reaches srvB through whatever is up
  for _ in $(seq 100); do x $NS_SA ping -c1 -W1 198.18.220.10 >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "no path srvA -> srvB; tunnel logs:" >&2
  tail -n 20 "$work"/*.log >&2 || true
  for ns in $NS_GA $NS_GB; do echo "== $ns" >&2; x $ns ip route >&2; x $ns ip -s link >&2; done
  x $NS_GA ping -c 2 -W 1 198.19.200.2 >&2 || true
  if [[ -n ${DEBUG_HOLD:-} ]]; then echo "holding for inspection: namespaces $NS_SA $NS_GA $NS_GB $NS_SB" >&2; sleep "$DEBUG_HOLD"; fi
  return 1
}

# iperf3 -J srvA -> srvB with these options; a run that iperf3 itself fails (its server, a daemon
# that serves one test at a time, sometimes resets the next connection right after a test) is
# run again, at most twice, and said so on stderr.
iperf_json() {
  local try out
  for try in 1 2 3; do
    out=$(x $NS_SA iperf3 -c 198.18.220.10 -J "$@" || true)
    if ! grep -q '"error"' <<<"$out" && grep -q '"sum_received"' <<<"$out"; then
      printf '%s\n' "$out"
      return 0
    fi
    echo "  (iperf3 $* failed: $(grep -o '"error":[^}]*' <<<"$out" | head -1); try $try of 3)" >&2
    sleep 1
    iperf_servers
  done
  printf '%s\n' "$out"
}

measure() { # name -> appends "name round fwd rev rtt cpu loaded-rtt retransmits" to results
  local name=$1 round=$2 fwd rev rtt c0 c1 hz lrtt retr
  ready
  iperf_servers
  # Warm-up, both directions, not measured: lets the JVM compile its hot paths (and treats
  # every tunnel the same).
  iperf_json -t "${WARMUP:-2}" >/dev/null
  iperf_json -t "${WARMUP:-2}" -R >/dev/null
  c0=$(cpu_ticks)
  # While the forward stream runs, ping the same path from its second second on: the RTT a
  # packet sees behind a full TCP stream is what the tunnel's queues add (bufferbloat).
  ( sleep 1; x $NS_SA ping -c $(( (SECS - 2) * 20 )) -i 0.05 -q 198.18.220.10 | awk -F/ '/rtt/ {print $5}' >"$work/lrtt" ) &
  local pinger=$!
  iperf_json -t "$SECS" >"$work/fwd.json"
  wait $pinger || true
  fwd=$(gbps <"$work/fwd.json")
  retr=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_sent"].get("retransmits", 0))' <"$work/fwd.json")
  lrtt=$(cat "$work/lrtt"); lrtt=${lrtt:-nan}
  rev=$(iperf_json -t "$SECS" -R | gbps)
  c1=$(cpu_ticks)
  hz=$(getconf CLK_TCK)
  rtt=$(x $NS_SA ping -c 20 -i 0.05 -q 198.18.220.10 | awk -F/ '/rtt/ {print $5}')
  printf '%s %s %.3f %.3f %.3f %.2f %s %s\n' "$name" "$round" "$fwd" "$rev" "$rtt" "$(echo "($c1 - $c0) / $hz" | bc -l)" "$lrtt" "$retr" >>"$work/results"
  printf '  %-10s round %s: %6.3f Gbit/s A->B, %6.3f Gbit/s B->A, rtt %s ms (%s ms under load, %s retransmits), tunnel cpu %.1f s\n' \
    "$name" "$round" "$fwd" "$rev" "$rtt" "$lrtt" "$retr" "$(echo "($c1 - $c0) / $hz" | bc -l)"
}

command -v python3 >/dev/null || { echo "needs python3 (to read iperf3 -J)" >&2; exit 2; }
command -v bc >/dev/null || { echo "needs bc (apt-get install bc)" >&2; exit 2; }

. "$root/scripts/jdk.sh"; pick_jdk
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; dctun on JDK $JDK_MAJOR ($JAVA_HOME)"
echo "rounds: $ROUNDS, $SECS s per iperf3 run"
for round in $(seq "$ROUNDS"); do
  for t in ${TUNNELS:-none dctun wireguard-go openvpn}; do
    case $t in
      none) start_none ;;
      dctun) start_dctun; gw_route dbt0 dbt0 ;;
      dctun-nio) start_dctun -Ddctun.udp=nio; gw_route dbt0 dbt0 ;;
      dctun-java) start_dctun -Ddctun.aead=java; gw_route dbt0 dbt0 ;;
      dctun-x) start_dctun "${DCTUN_X_OPTS:?dctun-x needs DCTUN_X_OPTS, the JVM options it differs by}"; gw_route dbt0 dbt0 ;;
      dctun@*) start_dctun "$(tr , ' ' <<<"${t#dctun@}")"; gw_route dbt0 dbt0 ;;
      wireguard-go) start_wggo; gw_route dbwa${id} dbwb${id} ;;
      openvpn) start_openvpn; gw_route dbo${id} dbo${id} ;;
      dctun-tcp) start_dctun_stream tcp; gw_route dbt0 dbt0 ;;
      dctun-tls) start_dctun_stream tls; gw_route dbt0 dbt0 ;;
      openvpn-tcp) start_openvpn tcp; gw_route dbo${id} dbo${id} ;;
    esac
    measure "$t" "$round"
    stop_tunnel
  done
done

python3 - "$work/results" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for name, rnd, fwd, rev, rtt, cpu, lrtt, retr in rows:
    by.setdefault(name, []).append((float(fwd), float(rev), float(rtt), float(cpu), float(lrtt), float(retr)))
med = {n: [statistics.median(c) for c in zip(*v)] for n, v in by.items()}
print()
print("| tunnel | A->B Gbit/s | B->A Gbit/s | ping RTT ms | RTT under A->B load ms | A->B retransmits | tunnel CPU s | CPU s per Gbit |")
print("|---|---|---|---|---|---|---|---|")
order = ["none", "dctun", "dctun-nio", "dctun-java", "dctun-x", "wireguard-go", "openvpn"]
for n in order + sorted(set(med) - set(order)):
    if n in med:
        f, r, rtt, cpu, lrtt, retr = med[n]
        per = cpu / ((f + r) / 2) if f + r > 0 and n != "none" else float("nan")
        print(f"| {n} | {f:.3f} | {r:.3f} | {rtt:.3f} | {lrtt:.2f} | {retr:.0f} | {cpu:.1f} | {per:.1f} |")
print()
for mine, other in [("dctun-tcp", "openvpn-tcp"), ("dctun-tls", "openvpn-tcp"), ("dctun-tcp", "dctun"),
                    ("dctun-tls", "dctun")]:
    if mine in med and other in med:
        d, o = med[mine], med[other]
        print(f"{mine}/{other}: throughput A->B {d[0]/o[0]:.2f}, B->A {d[1]/o[1]:.2f}, RTT {d[2]/o[2]:.2f}, "
              f"RTT under load {d[4]/o[4]:.2f} (lower is better)")
for other in ["wireguard-go", "openvpn"]:
    for mine in ["dctun", "dctun-x"]:
        if mine in med and other in med:
            d, o = med[mine], med[other]
            print(f"{mine}/{other}: throughput A->B {d[0]/o[0]:.2f}, B->A {d[1]/o[1]:.2f}, RTT {d[2]/o[2]:.2f}, "
                  f"RTT under load {d[4]/o[4]:.2f} (lower is better)")
EOF
