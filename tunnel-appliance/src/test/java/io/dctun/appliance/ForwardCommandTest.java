package io.dctun.appliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.dctun.appliance.config.ConfigError;
import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.ForwardConfig;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dctun forward}: keys, the configuration's errors with their lines, and a real run on loopback. */
class ForwardCommandTest {
  @TempDir Path dir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  int run(String... args) {
    out.getBuffer().setLength(0);
    err.getBuffer().setLength(0);
    var cl = Main.commandLine(new ByteArrayInputStream(new byte[0]), dir);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(args);
  }

  @Test
  void genkeyWritesAnOwnerOnlyKeyAndPubkeyReadsItBack() throws Exception {
    assertThat(run("forward", "genkey", "a.key")).isZero();
    String line = out.toString().strip();
    assertThat(line).startsWith("ecdsa-sha2-nistp256 AAAA");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("a.key")))).isEqualTo("rw-------");
    assertThat(Files.readString(dir.resolve("a.key"))).startsWith("-----BEGIN OPENSSH PRIVATE KEY-----");
    assertThat(run("forward", "pubkey", "a.key")).isZero();
    assertThat(out.toString().strip()).isEqualTo(line);
    assertThat(run("forward", "genkey", "a.key")).as("never overwrites a key").isNotZero();
    assertThat(err.toString()).contains("already exists");
    Files.setPosixFilePermissions(dir.resolve("a.key"), PosixFilePermissions.fromString("rw-r--r--"));
    assertThat(run("forward", "pubkey", "a.key")).isNotZero();
    assertThat(err.toString()).contains("a.key").contains("others");
  }

  String key(String name) {
    assertThat(run("forward", "genkey", name)).isZero();
    return out.toString().strip();
  }

  @Test
  void everyErrorNamesItsLineAndField() throws Exception {
    String innerPub = key("inner.key");
    Files.writeString(dir.resolve("f.yaml"), String.join("\n",
        "outer:",
        "  listen: 198.18.0.1:2222",
        "  key-file: missing.key",
        "  inner-key: " + innerPub,
        "  bind: 198.18.0.1",
        "  ports: [5432, 5432]",
        "  heartbeat: forever",
        "inner:",
        "  outer: gw.example:2222",
        "  outer-key: not-a-key",
        "  key-file: inner.key",
        "  bind: 198.18.0.1",
        "  forwards:",
        "    - {port: 5432, target: 198.18.30.5:5432}",
        "    - {port: 5432, tragte: 198.18.30.5:5433}",
        ""));
    List<ConfigError> errors;
    try {
      ForwardConfig.load(dir.resolve("f.yaml"));
      throw new AssertionError("expected errors");
    } catch (ConfigException e) {
      errors = e.errors();
    }
    assertThat(errors).extracting(ConfigError::line, ConfigError::field).contains(
        org.assertj.core.groups.Tuple.tuple(3, "outer.key-file"),
        org.assertj.core.groups.Tuple.tuple(6, "outer.ports[1]"),
        org.assertj.core.groups.Tuple.tuple(7, "outer.heartbeat"),
        org.assertj.core.groups.Tuple.tuple(9, "inner.outer"),
        org.assertj.core.groups.Tuple.tuple(10, "inner.outer-key"));
    assertThat(errors).anySatisfy(e -> assertThat(e.line()).isEqualTo(15)); // the misspelt target field
    assertThat(run("forward", "-c", "f.yaml")).isEqualTo(Main.EXIT_CONFIG);
    assertThat(err.toString()).contains("f.yaml:3: outer.key-file:");
  }

  @Test
  void aConfiguredPairCarriesAStreamFromTheOuterPortToTheInnerTarget() throws Exception {
    String outerPub = key("outer.key");
    String innerPub = key("inner.key");
    InetAddress lo = InetAddress.getLoopbackAddress();
    int sshPort;
    int fwdPort;
    try (ServerSocket a = new ServerSocket(0, 1, lo); ServerSocket b = new ServerSocket(0, 1, lo)) {
      sshPort = a.getLocalPort();
      fwdPort = b.getLocalPort();
    }
    try (ServerSocket target = new ServerSocket(0, 5, lo)) {
      Files.writeString(dir.resolve("f.yaml"), String.join("\n",
          "outer:",
          "  listen: 127.0.0.1:" + sshPort,
          "  key-file: outer.key",
          "  inner-key: " + innerPub,
          "  bind: 127.0.0.1",
          "  ports: [" + fwdPort + "]",
          "  heartbeat: 500ms",
          "inner:",
          "  outer: 127.0.0.1:" + sshPort,
          "  outer-key: " + outerPub,
          "  key-file: inner.key",
          "  bind: 127.0.0.1",
          "  forwards: [{port: " + fwdPort + ", target: 127.0.0.1:" + target.getLocalPort() + "}]",
          "  heartbeat: 500ms",
          ""));
      ForwardConfig cfg = ForwardConfig.load(dir.resolve("f.yaml"));
      List<AutoCloseable> running = ForwardCommand.start(cfg);
      try {
        Thread server = new Thread(() -> {
          try (Socket c = target.accept()) {
            byte[] got = c.getInputStream().readNBytes(5);
            c.getOutputStream().write(("got " + new String(got, StandardCharsets.US_ASCII)).getBytes(StandardCharsets.US_ASCII));
            c.shutdownOutput();
          } catch (IOException e) {
            // the assertion below reports it
          }
        }, "target");
        server.setDaemon(true);
        server.start();
        String answer = null;
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (answer == null && System.nanoTime() < deadline) { // until the inner side has asked for the port
          try (Socket c = new Socket(lo, fwdPort)) {
            c.setSoTimeout(10_000);
            c.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            answer = new String(c.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
          } catch (java.net.ConnectException notYet) {
            Thread.sleep(50);
          }
        }
        assertThat(answer).isEqualTo("got hello");
      } finally {
        ForwardCommand.closeAll(running);
      }
    }
  }
}
