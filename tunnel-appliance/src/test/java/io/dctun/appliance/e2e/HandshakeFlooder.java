package io.dctun.appliance.e2e;

import io.dctun.crypto.CookieGenerator;
import io.dctun.crypto.PublicKey;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.SplittableRandom;

/**
 * A handshake flood from many real source addresses, bounded in count and time:
 *
 * <pre>
 *   HandshakeFlooder TARGET_IP PORT TARGET_PUBLIC_KEY MAX_MESSAGES MAX_MILLIS STOP_FILE SOURCE_IP...
 * </pre>
 *
 * One UDP socket per source address. Round after round, each source sends one initiation with a
 * valid mac1 (made with the target's public key; the body is random, so it never completes) and
 * one with a garbage mac1. Each source also reads what comes back: the first cookie reply it can
 * open makes it stamp a valid mac2 from then on, as a determined attacker who owns its
 * addresses would, so what it sends next reaches the target's per-source rate limiter. Stops
 * after MAX_MESSAGES datagrams, MAX_MILLIS or once STOP_FILE exists (looked for every 50 ms),
 * whichever comes first. Prints {@code ready} once every socket is bound, and at the end one line:
 *
 * <pre>
 *   flood sources=256 valid-mac1=N garbage-mac1=N cookies=N other-replies=N millis=N
 * </pre>
 *
 * Run inside a test namespace (as a spawned JVM with the test classpath) whose interface holds
 * every SOURCE_IP.
 */
public final class HandshakeFlooder {
  private static final int INITIATION_LENGTH = 148;
  private static final int COOKIE_REPLY_LENGTH = 64;

  private HandshakeFlooder() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 7) {
      System.err.println("usage: HandshakeFlooder TARGET_IP PORT TARGET_PUBLIC_KEY MAX_MESSAGES MAX_MILLIS STOP_FILE SOURCE_IP...");
      System.exit(2);
    }
    InetSocketAddress target = new InetSocketAddress(InetAddress.getByName(args[0]), Integer.parseInt(args[1]));
    PublicKey key = PublicKey.fromBase64(args[2]);
    long maxMessages = Long.parseLong(args[3]);
    long maxNanos = Long.parseLong(args[4]) * 1_000_000L;
    java.nio.file.Path stopFile = java.nio.file.Path.of(args[5]);
    int n = args.length - 6;
    SplittableRandom random = new SplittableRandom();

    DatagramChannel[] channels = new DatagramChannel[n];
    CookieGenerator[] cookies = new CookieGenerator[n];
    ByteBuffer[] valid = new ByteBuffer[n];
    boolean[] haveCookie = new boolean[n];
    try {
      long now = System.nanoTime();
      for (int i = 0; i < n; i++) {
        DatagramChannel c = DatagramChannel.open();
        channels[i] = c;
        c.bind(new InetSocketAddress(InetAddress.getByName(args[6 + i]), 0));
        c.connect(target);
        c.configureBlocking(false);
        cookies[i] = new CookieGenerator(key);
        valid[i] = ByteBuffer.allocateDirect(INITIATION_LENGTH);
        valid[i].put(initiation(cookies[i], random, now)).flip();
      }
      byte[] g = new byte[INITIATION_LENGTH];
      random.nextBytes(g);
      g[0] = 1;
      g[1] = g[2] = g[3] = 0;
      ByteBuffer garbage = ByteBuffer.allocateDirect(INITIATION_LENGTH).put(g).flip();
      ByteBuffer in = ByteBuffer.allocateDirect(2048);
      byte[] reply = new byte[COOKIE_REPLY_LENGTH];

      System.out.println("ready");
      System.out.flush();
      long validSent = 0;
      long garbageSent = 0;
      long cookiesTaken = 0;
      long otherReplies = 0;
      long start = System.nanoTime();
      long deadline = start + maxNanos;
      long lastStopCheck = start;
      outer:
      while (true) {
        for (int i = 0; i < n; i++) {
          if (validSent + garbageSent >= maxMessages) {
            break outer;
          }
          valid[i].rewind();
          if (channels[i].write(valid[i]) > 0) {
            validSent++;
          }
          garbage.rewind();
          if (channels[i].write(garbage) > 0) {
            garbageSent++;
          }
          for (int k = 0; k < 4; k++) {
            in.clear();
            if (channels[i].receive(in) == null) {
              break;
            }
            in.flip();
            if (in.remaining() == COOKIE_REPLY_LENGTH && in.get(0) == 3 && !haveCookie[i]) {
              in.get(reply);
              long t = System.nanoTime();
              if (cookies[i].consumeCookieReply(reply, t)) {
                haveCookie[i] = true;
                cookiesTaken++;
                valid[i].clear();
                valid[i].put(initiation(cookies[i], random, t)).flip(); // now with mac2
              }
            } else {
              otherReplies++;
            }
          }
        }
        long t = System.nanoTime();
        if (t - deadline >= 0) {
          break;
        }
        if (t - lastStopCheck >= 50_000_000L) {
          lastStopCheck = t;
          if (java.nio.file.Files.exists(stopFile)) {
            break;
          }
        }
      }
      long millis = (System.nanoTime() - start) / 1_000_000L;
      System.out.println("flood sources=" + n + " valid-mac1=" + validSent + " garbage-mac1=" + garbageSent
          + " cookies=" + cookiesTaken + " other-replies=" + otherReplies + " millis=" + millis);
    } finally {
      for (DatagramChannel c : channels) {
        if (c != null) {
          c.close();
        }
      }
    }
  }

  /** A random initiation body with valid mac1 (and mac2 once {@code gen} holds a cookie). */
  private static byte[] initiation(CookieGenerator gen, SplittableRandom random, long now) {
    byte[] m = new byte[INITIATION_LENGTH];
    random.nextBytes(m);
    m[0] = 1;
    m[1] = m[2] = m[3] = 0;
    gen.addMacs(m, now);
    return m;
  }
}
