package io.dctun.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shared pcap reader on captures made here, byte by byte, for each case a caller relies on. */
class PcapTest {
    @TempDir
    Path dir;

    /** An IPv4/UDP packet 198.18.0.1:51820 -> 198.18.0.2:51821 carrying {@code payload}. */
    static byte[] udp(byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(28 + payload.length);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (28 + payload.length)).putInt(0);
        b.put((byte) 64).put((byte) 17).putShort((short) 0);
        b.put(new byte[] {(byte) 198, 18, 0, 1}).put(new byte[] {(byte) 198, 18, 0, 2});
        b.putShort((short) 51820).putShort((short) 51821).putShort((short) (8 + payload.length)).putShort((short) 0);
        return b.put(payload).array();
    }

    static byte[] ethernet(int etherType, byte[] network) {
        byte[] f = new byte[14 + network.length];
        f[12] = (byte) (etherType >> 8);
        f[13] = (byte) etherType;
        System.arraycopy(network, 0, f, 14, network.length);
        return f;
    }

    static byte[] pcap(ByteOrder order, int magic, int linkType, byte[]... frames) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer h = ByteBuffer.allocate(24).order(order);
        h.putInt(magic).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0).putInt(65535).putInt(linkType);
        out.writeBytes(h.array());
        int sec = 1_700_000_000;
        for (byte[] f : frames) {
            ByteBuffer r = ByteBuffer.allocate(16).order(order);
            r.putInt(sec++).putInt(magic == 0xa1b23c4d ? 5_000 : 5).putInt(f.length).putInt(f.length);
            out.writeBytes(r.array());
            out.writeBytes(f);
        }
        return out.toByteArray();
    }

    Path write(byte[] bytes) throws IOException {
        return Files.write(dir.resolve("c.pcap"), bytes);
    }

    @Test
    void readsFramesInEitherByteOrderAndBothTimeResolutions() throws Exception {
        byte[] a = ethernet(0x0800, udp(new byte[] {1, 2, 3}));
        byte[] arp = ethernet(0x0806, new byte[28]);
        for (ByteOrder order : List.of(ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN)) {
            List<Pcap.Frame> micros = Pcap.read(write(pcap(order, 0xa1b2c3d4, Pcap.LINKTYPE_ETHERNET, a, arp)));
            assertThat(micros).extracting(Pcap.Frame::etherType).containsExactly(0x0800, 0x0806);
            assertThat(micros.get(0).micros()).isEqualTo(1_700_000_000_000_005L);
            assertThat(micros.get(1).data()).isEqualTo(arp);
            List<Pcap.Frame> nanos = Pcap.read(write(pcap(order, 0xa1b23c4d, Pcap.LINKTYPE_ETHERNET, a)));
            assertThat(nanos.get(0).micros()).isEqualTo(1_700_000_000_000_005L);
        }
    }

    @Test
    void udpPayloadEndsAtTheUdpLengthNotAtEthernetPadding() throws Exception {
        byte[] padded = Arrays.copyOf(ethernet(0x0800, udp(new byte[] {7, 8})), 60);
        Path f = write(pcap(ByteOrder.LITTLE_ENDIAN, 0xa1b2c3d4, Pcap.LINKTYPE_ETHERNET, padded));
        assertThat(Pcap.udpPayloads(f)).containsExactly(new byte[] {7, 8});
        Pcap.Ipv4 p = Pcap.ipv4(f).get(0);
        assertThat(p).extracting(Pcap.Ipv4::protocol, Pcap.Ipv4::src, Pcap.Ipv4::dst, Pcap.Ipv4::srcPort,
                Pcap.Ipv4::dstPort).containsExactly(17, "198.18.0.1", "198.18.0.2", 51820, 51821);
    }

    @Test
    void udpPayloadCutBySnaplenIsWhatWasCaptured() throws Exception {
        byte[] cut = Arrays.copyOf(ethernet(0x0800, udp(new byte[100])), 14 + 28 + 10);
        Path f = write(pcap(ByteOrder.LITTLE_ENDIAN, 0xa1b2c3d4, Pcap.LINKTYPE_ETHERNET, cut));
        assertThat(Pcap.udpPayloads(f).get(0)).hasSize(10);
    }

    @Test
    void readsLinuxCookedAndRawIpCaptures() throws Exception {
        byte[] ip = udp(new byte[] {9});
        byte[] sll = new byte[16 + ip.length];
        sll[14] = 0x08;
        System.arraycopy(ip, 0, sll, 16, ip.length);
        byte[] sll2 = new byte[20 + ip.length];
        sll2[0] = 0x08;
        System.arraycopy(ip, 0, sll2, 20, ip.length);
        assertThat(Pcap.udpPayloads(write(pcap(ByteOrder.LITTLE_ENDIAN, 0xa1b2c3d4, Pcap.LINKTYPE_LINUX_SLL, sll))))
                .containsExactly(new byte[] {9});
        assertThat(Pcap.udpPayloads(write(pcap(ByteOrder.LITTLE_ENDIAN, 0xa1b2c3d4, Pcap.LINKTYPE_LINUX_SLL2, sll2))))
                .containsExactly(new byte[] {9});
        assertThat(Pcap.udpPayloads(write(pcap(ByteOrder.LITTLE_ENDIAN, 0xa1b2c3d4, Pcap.LINKTYPE_RAW, ip))))
                .containsExactly(new byte[] {9});
    }

    @Test
    void aCutLastRecordFailsReadButNotTheTolerantReaders() throws Exception {
        byte[] whole = pcap(ByteOrder.LITTLE_ENDIAN, 0xa1b2c3d4, Pcap.LINKTYPE_ETHERNET,
                ethernet(0x0800, udp(new byte[] {1})), ethernet(0x0800, udp(new byte[] {2})));
        Path f = write(Arrays.copyOf(whole, whole.length - 5));
        assertThatThrownBy(() -> Pcap.read(f)).isInstanceOf(IOException.class).hasMessageContaining("past the end");
        assertThat(Pcap.readUpToTruncation(f)).hasSize(1);
        assertThat(Pcap.udpPayloads(f)).containsExactly(new byte[] {1});
    }

    @Test
    void refusesWhatIsNotAPcapItKnows() throws Exception {
        assertThatThrownBy(() -> Pcap.read(write(new byte[10]))).isInstanceOf(IOException.class)
                .hasMessageContaining("not a pcap");
        assertThatThrownBy(() -> Pcap.read(write(new byte[24]))).isInstanceOf(IOException.class)
                .hasMessageContaining("bad pcap magic");
        assertThatThrownBy(() -> Pcap.read(write(pcap(ByteOrder.LITTLE_ENDIAN, 0xa1b2c3d4, 105))))
                .isInstanceOf(IOException.class).hasMessageContaining("link type 105");
    }

    @Test
    void hexDumpReadsTcpdumpXLinesOnly() {
        String text = "12:00:00.000 IP 198.18.1.1 > 224.0.0.18: VRRPv3\n"
                + "\t0x0000:  45c0 0020\n"
                + "\t0x0004:  ab\n";
        assertThat(Pcap.hexDump(text)).containsExactly(0x45, 0xc0, 0x00, 0x20, 0xab);
    }
}
