package io.dctun.core.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Just enough of the classic pcap format (what {@code tcpdump -w} writes) to compare what dctun
 * does with what other implementations put on the wire. Also reads {@code tcpdump -x} hex dumps.
 *
 * <pre>
 * file:    global header (24 bytes) | record | record | ...
 * header:  magic (4: a1b2c3d4 = microseconds, a1b23c4d = nanoseconds; its byte order is the file's)
 *          | version (2+2) | thiszone (4) | sigfigs (4) | snaplen (4) | link type (4)
 * record:  seconds (4) | fraction (4) | captured length (4) | original length (4) | frame (captured length)
 * </pre>
 *
 * Link types read: Ethernet (1), raw IP (101), Linux cooked v1 (113) and v2 (276). Test data only:
 * malformed input throws {@link IOException} rather than being handled gracefully.
 */
public final class Pcap {
    public static final int LINKTYPE_ETHERNET = 1;
    public static final int LINKTYPE_RAW = 101;
    public static final int LINKTYPE_LINUX_SLL = 113;
    public static final int LINKTYPE_LINUX_SLL2 = 276;

    private static final int MAGIC_MICROS = 0xa1b2c3d4;
    private static final int MAGIC_NANOS = 0xa1b23c4d;
    private static final int GLOBAL_HEADER = 24;
    private static final int RECORD_HEADER = 16;

    private Pcap() {
    }

    /**
     * One captured frame.
     *
     * @param micros   capture time, microseconds since the epoch
     * @param linkType the file's link type, which says what {@code data} starts with
     * @param data     the captured bytes (fewer than were sent if the snaplen cut them)
     */
    public record Frame(long micros, int linkType, byte[] data) {
        /** The EtherType of the frame (for raw IP, 0x0800 or 0x86dd from the version nibble). */
        public int etherType() {
            return switch (linkType) {
                case LINKTYPE_ETHERNET -> u16(data, 12);
                case LINKTYPE_LINUX_SLL -> u16(data, 14);
                case LINKTYPE_LINUX_SLL2 -> u16(data, 0);
                default -> data.length > 0 && (data[0] & 0xf0) == 0x60 ? 0x86dd : 0x0800;
            };
        }

        /** Where the network-layer (IP, ARP) header starts in {@code data}. */
        public int networkOffset() {
            return linkHeaderLength(linkType);
        }
    }

    /** One captured IPv4 packet: protocol, addresses and, for UDP, ports and the captured payload. */
    public record Ipv4(int protocol, String src, String dst, int srcPort, int dstPort, byte[] udpPayload) {
    }

    /** Every frame of a complete capture; a file cut short or with bytes after its last record throws. */
    public static List<Frame> read(Path file) throws IOException {
        return read(file, false);
    }

    /**
     * Every complete frame of a capture whose last record may be cut short, as when {@code tcpdump}
     * is stopped while writing.
     */
    public static List<Frame> readUpToTruncation(Path file) throws IOException {
        return read(file, true);
    }

    /** The IPv4 packets of {@code file} (last record may be cut short); other frames are skipped. */
    public static List<Ipv4> ipv4(Path file) throws IOException {
        List<Ipv4> out = new ArrayList<>();
        for (Frame f : readUpToTruncation(file)) {
            ipv4(f, out);
        }
        return out;
    }

    /** The payloads of the IPv4 UDP datagrams in {@code file}, in capture order. */
    public static List<byte[]> udpPayloads(Path file) throws IOException {
        List<byte[]> out = new ArrayList<>();
        for (Ipv4 p : ipv4(file)) {
            if (p.udpPayload() != null) {
                out.add(p.udpPayload());
            }
        }
        return out;
    }

    /** Parses {@code tcpdump -x} style lines ({@code "0x0000:  45c0 0020 ..."}) into bytes; other lines are skipped. */
    public static byte[] hexDump(String text) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String line : text.split("\n")) {
            String t = line.trim();
            if (!t.startsWith("0x")) {
                continue;
            }
            String hex = t.substring(t.indexOf(':') + 1).replaceAll("\\s+", "");
            for (int i = 0; i + 1 < hex.length(); i += 2) {
                out.write(Integer.parseInt(hex.substring(i, i + 2), 16));
            }
        }
        return out.toByteArray();
    }

    private static List<Frame> read(Path file, boolean allowTruncatedEnd) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file));
        if (b.remaining() < GLOBAL_HEADER) {
            throw new IOException(file + ": not a pcap file (" + b.remaining() + " bytes)");
        }
        int magic = b.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        if (magic != MAGIC_MICROS && magic != MAGIC_NANOS) {
            magic = b.order(ByteOrder.BIG_ENDIAN).getInt(0);
            if (magic != MAGIC_MICROS && magic != MAGIC_NANOS) {
                throw new IOException(file + ": bad pcap magic " + Integer.toHexString(magic));
            }
        }
        int linkType = b.getInt(20);
        if (linkType != LINKTYPE_ETHERNET && linkType != LINKTYPE_RAW && linkType != LINKTYPE_LINUX_SLL
                && linkType != LINKTYPE_LINUX_SLL2) {
            throw new IOException(file + ": unsupported link type " + linkType);
        }
        List<Frame> frames = new ArrayList<>();
        int pos = GLOBAL_HEADER;
        while (pos + RECORD_HEADER <= b.limit()) {
            long sec = b.getInt(pos) & 0xffffffffL;
            long fraction = b.getInt(pos + 4) & 0xffffffffL;
            int incl = b.getInt(pos + 8);
            int start = pos + RECORD_HEADER;
            if (incl < 0 || incl > b.limit() - start) {
                if (allowTruncatedEnd) {
                    return frames;
                }
                throw new IOException(file + ": record at byte " + pos + " runs past the end");
            }
            byte[] data = Arrays.copyOfRange(b.array(), start, start + incl);
            long micros = sec * 1_000_000 + (magic == MAGIC_NANOS ? fraction / 1000 : fraction);
            frames.add(new Frame(micros, linkType, data));
            pos = start + incl;
        }
        if (pos != b.limit() && !allowTruncatedEnd) {
            throw new IOException(file + ": " + (b.limit() - pos) + " trailing bytes");
        }
        return frames;
    }

    private static void ipv4(Frame f, List<Ipv4> out) {
        byte[] d = f.data();
        int ip = f.networkOffset();
        if (f.etherType() != 0x0800 || ip + 20 > d.length || (d[ip] & 0xf0) != 0x40) {
            return;
        }
        int ihl = (d[ip] & 0x0f) * 4;
        int proto = d[ip + 9] & 0xff;
        String src = addr(d, ip + 12);
        String dst = addr(d, ip + 16);
        int l4 = ip + ihl;
        if (proto == 17 && l4 + 8 <= d.length) {
            int udpLength = u16(d, l4 + 4);
            // The UDP length leaves out Ethernet padding; the snaplen may have cut the datagram shorter.
            int end = udpLength >= 8 ? Math.min(d.length, l4 + udpLength) : d.length;
            out.add(new Ipv4(proto, src, dst, u16(d, l4), u16(d, l4 + 2), Arrays.copyOfRange(d, l4 + 8, end)));
        } else {
            out.add(new Ipv4(proto, src, dst, -1, -1, null));
        }
    }

    private static int linkHeaderLength(int linkType) {
        return switch (linkType) {
            case LINKTYPE_ETHERNET -> 14;
            case LINKTYPE_LINUX_SLL -> 16;
            case LINKTYPE_LINUX_SLL2 -> 20;
            case LINKTYPE_RAW -> 0;
            default -> throw new IllegalStateException("unsupported pcap link type " + linkType); // read() refuses it
        };
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xff) << 8 | (b[at + 1] & 0xff);
    }

    private static String addr(byte[] b, int at) {
        return (b[at] & 0xff) + "." + (b[at + 1] & 0xff) + "." + (b[at + 2] & 0xff) + "." + (b[at + 3] & 0xff);
    }
}
