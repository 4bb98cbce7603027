#!/usr/bin/env python3
"""Writes the hand-made seeds of the fuzz corpora (well-formed packets and messages the fuzzer
mutates from). Run once when a target is added; the files are committed. Addresses are from
198.18.0.0/15 and 2001:db8::/32 (documentation)."""
import os, struct, sys

def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def v4(proto, payload, src=bytes([198,18,0,1]), dst=bytes([198,18,0,2]), ihl=5, flags=0x4000):
    opts = b'\x01' * ((ihl - 5) * 4)
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, 20 + len(opts) + len(payload), 1, flags, 64, proto, 0, src, dst) + opts
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload

def v6(nh, payload, ext=b''):
    src = bytes.fromhex('20010db8000000000000000000000001'); dst = bytes.fromhex('20010db8000000000000000000000002')
    return struct.pack('!IHBB', 0x60000000, len(ext) + len(payload), nh, 64) + src + dst + ext + payload

def echo(id_, seq, data):
    m = struct.pack('!BBHHH', 8, 0, 0, id_, seq) + data
    return m[:2] + struct.pack('!H', csum(m)) + m[4:]

def write(d, name, b):
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), 'wb').write(b)

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
ip = os.path.join(root, 'tunnel-core/src/test/resources/io/dctun/core/packet/IpPacketFuzzTestInputs/viewsNeverThrowOrDisagree')
tcp = struct.pack('!HHIIBBHHH', 40000, 5432, 1, 0, 0x50, 0x02, 65535, 0, 0)
udp = struct.pack('!HHHH', 5353, 53, 12, 0) + b'dctun'
write(ip, 'v4-tcp-syn', v4(6, tcp))
write(ip, 'v4-udp-options', v4(17, udp, ihl=7))
write(ip, 'v4-icmp-echo', v4(1, echo(7, 1, b'0123456789abcdef')))
write(ip, 'v4-fragment', v4(17, udp, flags=0x2000))
write(ip, 'v6-tcp', v6(6, tcp))
hop = bytes([6, 0, 1, 4, 0, 0, 0, 0])  # hop-by-hop, next TCP, PadN
write(ip, 'v6-hopbyhop-tcp', v6(0, tcp, hop))
frag = bytes([17, 0, 0, 8, 0, 0, 0, 1])  # fragment header, offset 1: non-first
write(ip, 'v6-nonfirst-fragment', v6(44, udp, frag))
write(ip, 'v6-icmpv6', v6(58, bytes([128, 0, 0, 0, 0, 1, 0, 1])))
print('seeds written')

# --- configuration loader: the README's configurations and a gateway pair
cfg = os.path.join(root, 'tunnel-appliance/src/test/resources/io/dctun/appliance/config/ConfigLoaderFuzzTestInputs/anyTextLoadsOrIsRefusedWithItsLine')
k1 = 'lhAiEqayShcFM4QtRKR/hwV7ANkyBnQSAZH/hGHSmSE='
k2 = 'pK6CihcGpxX31bIp0qdaKvPkcf73Wv7HBbjlYKlmIhw='
write(cfg, 'site-a.yaml', f"""interface: dctun0
private-key-file: gw.key
listen-port: 51820
addresses: [198.19.0.1/24, fd00:10::1/64]
mtu: 1420
peers:
  - name: site-b
    public-key: {k1}
    endpoint: 198.18.0.2:51820
    allowed-ips: [198.18.20.0/24, 198.19.0.2/32]
    persistent-keepalive: 25
    preshared-key-file: dc2.psk
  - name: site-c
    public-key: {k2}
    endpoints: ["[2001:db8::3]:51820", gw.c.example.net:51820, tcp://198.18.0.3:443]
    allowed-ips:
      - 198.18.30.0/24
      - fd00:30::/64
""".encode())
write(cfg, 'firewall.yaml', f"""interface: dctun0
private-key-file: gw.key
listen-port: 51820
peers:
  - name: prod-dc1
    public-key: {k1}
    allowed-ips: [10.1.0.0/16]
  - name: staging-dc3
    public-key: {k2}
    allowed-ips: [10.3.0.0/16]
firewall:
  max-flows: 1024
  groups:
    prod: [prod-dc1]
  rules:
    - name: pg-replication
      direction: in
      group: prod
      source: 10.1.0.0/16
      destination: 10.2.5.10
      protocol: tcp
      destination-port: 5432
      action: accept
      log: true
    - name: nightly-backup
      direction: in
      peer: prod-dc1
      protocol: tcp
      destination-port: 800-900
      match: {{module: time-window, from: "22:00", to: "04:00"}}
      action: accept
    - name: no-ssh
      protocol: tcp
      destination-port: [22, 2222]
      state: [new, invalid]
      action: reject
""".encode())
write(cfg, 'ha-pair.yaml', f"""interface: dctun0
private-key-file: gw.key
listen-port: 51820
peers:
  - name: site-b
    public-key: {k1}
    endpoint: 198.18.0.2:51820
    allowed-ips: [198.18.20.0/24]
ha:
  priority: 150
  advert-interval: 100
  preempt: false
  preempt-delay: 2000
  public:
    interface: eth0
    vrid: 51
    vip: 198.18.0.100/24
    unicast-peers: [198.18.0.12]
  private:
    interface: eth1
    vrid: 52
    vip: 198.18.20.1/24
  track:
    interfaces: [eth2]
    peer-handshake: {{within: 200, weight: 60}}
  state-sync:
    local: 198.18.3.1:7400
    peer: 198.18.3.2:7400
""".encode())

# --- firewall: packets are built from fuzzed fields; an empty-ish seed and a busy one
fw = os.path.join(root, 'tunnel-firewall/src/test/resources/io/dctun/firewall/FirewallFuzzTestInputs/explainPredictsTheDataPath')
write(fw, 'many', bytes(range(256)) * 2)

# --- mesh route-sharing messages: hello, announce (IPv4 and IPv6 hosts), withdraw
mesh = os.path.join(root, 'tunnel-core/src/test/resources/io/dctun/core/mesh/MeshCodecFuzzTestInputs/decodeRefusesOrRoundTrips')
e4 = struct.pack('!BB4sQI', 4, 32, bytes([198, 18, 5, 1]), 3, 30000)
e6 = struct.pack('!BB16sQI', 16, 128, bytes.fromhex('20010db8000000000000000000000005'), 4, 30000)
write(mesh, 'hello', struct.pack('!BQQ', 1, 7, 6))
write(mesh, 'announce', struct.pack('!BQH', 2, 7, 2) + e4 + e6)
write(mesh, 'withdraw', struct.pack('!BQH', 3, 7, 1) + e4)

# --- UAPI set=1 bodies (the device starts with UapiTest.SET_AB's peers A and B)
uapi = os.path.join(root, 'tunnel-core/src/test/resources/io/dctun/core/uapi/UapiSetFuzzTestInputs/aFailedSetChangesNothing')
A = '7203d2791e0215efea7954d714f75d435e824621f5ee89e8e382e8242c577747'
C = 'e6690922bf7cd3dfb4cbbf30932d1c57fe46a59528f8b1f2670711a36224ce54'
write(uapi, 'add-peer', f'public_key={C}\nendpoint=198.18.228.2:51820\npersistent_keepalive_interval=25\nallowed_ip=198.18.229.0/24\n'.encode())
write(uapi, 'change-and-fail', f'public_key={A}\nreplace_allowed_ips=true\nallowed_ip=198.18.230.0/24\npublic_key={C}\nallowed_ip=198.18.230.0/24\nendpoint=nonsense\n'.encode())
write(uapi, 'remove', f'replace_peers=true\npublic_key={A}\nremove=true\n'.encode())
