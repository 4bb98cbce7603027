package io.dctun.appliance.e2e;

import io.dctun.core.testing.ExecResult;
import io.dctun.core.testing.NetNs;
import io.dctun.core.testing.Spawned;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Debian's PostgreSQL servers run by a test inside its namespaces, always as the {@code postgres}
 * user ({@code runuser -u postgres --}): one {@link Server} per data directory, every directory
 * under one temporary root owned by postgres with mode 0700, unix sockets there too (never in
 * /var/run/postgresql). {@link #close()} stops every server (fast shutdown, then SIGKILL) and
 * deletes the root, also after a failure half way.
 */
final class Postgres implements AutoCloseable {
  static final String USER = "postgres";
  static final int PORT = 5432;
  private static final Pattern LSN = Pattern.compile("([0-9A-F]{1,8})/([0-9A-F]{1,8})");

  final Path bin;
  final Path root;
  private final List<Server> servers = new ArrayList<>();

  private Postgres(Path bin, Path root) {
    this.bin = bin;
    this.root = root;
  }

  /** The newest {@code /usr/lib/postgresql/N/bin} that has every program the tests run. */
  static Optional<Path> findBin() {
    Path base = Path.of("/usr/lib/postgresql");
    if (!Files.isDirectory(base)) {
      return Optional.empty();
    }
    try (Stream<Path> versions = Files.list(base)) {
      return versions.filter(v -> v.getFileName().toString().matches("\\d+"))
          .sorted(Comparator.comparingInt((Path v) -> Integer.parseInt(v.getFileName().toString())).reversed())
          .map(v -> v.resolve("bin"))
          .filter(b -> Stream.of("initdb", "postgres", "pg_basebackup", "pgbench", "psql", "pg_ctl", "pg_isready")
              .allMatch(p -> Files.isExecutable(b.resolve(p))))
          .findFirst();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** Skips unless PostgreSQL's binaries, the postgres user and runuser are all there. */
  static Path assumeInstalled() {
    Optional<Path> bin = findBin();
    Assumptions.assumeTrue(bin.isPresent(), "needs PostgreSQL: no /usr/lib/postgresql/*/bin with initdb, postgres, "
        + "pg_basebackup, pgbench, psql, pg_ctl and pg_isready (Debian package postgresql)");
    io.dctun.core.testing.Requirements.assumeCommand("runuser");
    try {
      root().getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(USER);
    } catch (IOException e) {
      Assumptions.abort("needs the user '" + USER + "' (created by Debian's postgresql-common): " + e.getMessage());
    }
    return bin.get();
  }

  private static Path root() {
    return Path.of("/");
  }

  /** A fresh root directory for the servers, owned by postgres, mode 0700. */
  static Postgres create(Path bin) {
    try {
      Path root = Files.createTempDirectory("dctun-pg-",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      Postgres pg = new Postgres(bin, root);
      try {
        pg.chown(root);
      } catch (RuntimeException e) {
        pg.close();
        throw e;
      }
      return pg;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Gives {@code p} to postgres:postgres. */
  void chown(Path p) {
    try {
      UserPrincipalLookupService users = p.getFileSystem().getUserPrincipalLookupService();
      PosixFileAttributeView v = Files.getFileAttributeView(p, PosixFileAttributeView.class);
      v.setOwner(users.lookupPrincipalByName(USER));
      v.setGroup(users.lookupPrincipalByGroupName(USER));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes a file that only postgres can read (a password file, a script). */
  Path writePrivate(String name, String content) {
    try {
      Path p = root.resolve(name);
      Files.writeString(p, content, StandardCharsets.UTF_8);
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
      chown(p);
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The argument vector that runs PostgreSQL's {@code program} as postgres, from the root directory. */
  List<String> asPostgres(String program, String... args) {
    List<String> cmd = new ArrayList<>(List.of("runuser", "-u", USER, "--", "env", "-C", root.toString(),
        bin.resolve(program).toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** Runs {@code program} as postgres in {@code ns}; the result, whatever the exit code. */
  ExecResult exec(NetNs ns, Duration timeout, byte[] stdin, String program, String... args) {
    return ns.exec(timeout, Map.of(), stdin, asPostgres(program, args).toArray(String[]::new));
  }

  /** As {@link #exec}, failing with the command's output unless it exits 0. */
  ExecResult run(NetNs ns, Duration timeout, String program, String... args) {
    ExecResult r = exec(ns, timeout, null, program, args);
    if (!r.ok()) {
      throw new AssertionError(program + " failed in " + ns + "\n" + r.describe());
    }
    return r;
  }

  /** A server's data directory and socket directory under the root; nothing is created yet. */
  Server server(String name, NetNs ns) {
    Server s = new Server(name, ns, root.resolve(name), root.resolve(name + "-sock"));
    servers.add(s);
    return s;
  }

  /** {@code X/Y} (hexadecimal, as PostgreSQL prints an LSN) as one number. */
  static long lsn(String text) {
    Matcher m = LSN.matcher(text.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException("not an LSN: '" + text.strip() + "'");
    }
    return (Long.parseLong(m.group(1), 16) << 32) | Long.parseLong(m.group(2), 16);
  }

  /** One PostgreSQL server: its data directory, its unix socket directory, its process once started. */
  final class Server {
    final String name;
    final NetNs ns;
    final Path data;
    final Path sockets;
    private Spawned process;

    private Server(String name, NetNs ns, Path data, Path sockets) {
      this.name = name;
      this.ns = ns;
      this.data = data;
      this.sockets = sockets;
    }

    /** Appends {@code lines} to postgresql.conf (later settings win over earlier ones). */
    void configure(String... lines) {
      append(data.resolve("postgresql.conf"), lines);
    }

    /** Appends {@code lines} to pg_hba.conf. */
    void allow(String... lines) {
      append(data.resolve("pg_hba.conf"), lines);
    }

    private void append(Path file, String... lines) {
      try {
        Files.writeString(file, "\n" + String.join("\n", lines) + "\n", StandardCharsets.UTF_8,
            java.nio.file.StandardOpenOption.APPEND);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /**
     * Starts {@code postgres -D data} in the foreground (its log is this process's output) with its
     * unix socket in {@link #sockets} only, and waits until it accepts connections there.
     */
    void start(Duration timeout) {
      try {
        if (!Files.isDirectory(sockets)) {
          Files.createDirectory(sockets,
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
          chown(sockets);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      process = ns.spawn(asPostgres("postgres", "-D", data.toString(), "-c",
          "unix_socket_directories=" + sockets).toArray(String[]::new));
      long deadline = System.nanoTime() + timeout.toNanos();
      for (int i = 0; i < 10_000 && System.nanoTime() < deadline; i++) {
        if (!process.isAlive()) {
          break;
        }
        if (exec(ns, Duration.ofSeconds(5), null, "pg_isready", "-q", "-h", sockets.toString(), "-p",
            Integer.toString(PORT)).ok()) {
          return;
        }
        Sites.sleep(100);
      }
      throw new AssertionError(name + " not accepting connections within " + timeout + "\n" + describe());
    }

    /** The server's log so far (and whether it runs). */
    String describe() {
      return process == null ? name + ": not started" : name + ": " + process.describe();
    }

    String log() {
      return process == null ? "" : process.output();
    }

    /** {@code psql} as postgres over the unix socket: the unaligned, tuples-only result of {@code sql}. */
    String query(String sql) {
      ExecResult r = exec(ns, Duration.ofSeconds(20), null, "psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
          "-h", sockets.toString(), "-p", Integer.toString(PORT), "-U", USER, "-d", "postgres", "-c", sql);
      if (!r.ok()) {
        throw new AssertionError(name + ": psql failed\n" + r.describe() + "\n" + describe());
      }
      return r.stdout().strip();
    }

    /**
     * Runs {@code sql} fed on standard input; on failure only the exit code is reported, never the
     * statement (it may carry a password).
     */
    void runSecret(String sql) {
      ExecResult r = exec(ns, Duration.ofSeconds(20), sql.getBytes(StandardCharsets.UTF_8), "psql", "-X", "-q", "-v",
          "ON_ERROR_STOP=1", "-h", sockets.toString(), "-p", Integer.toString(PORT), "-U", USER, "-d", "postgres");
      if (!r.ok()) {
        throw new AssertionError(name + ": psql (statement not shown) exited " + r.exitCode());
      }
    }

    /**
     * {@code psql} evaluating {@code sql} every {@code seconds} ({@code \watch}) until closed: each
     * row one line of output, columns separated by '|'.
     */
    Spawned watch(String sql, double seconds) {
      Path script = writePrivate(name + "-watch-" + System.nanoTime() + ".sql",
          sql + " \\watch " + seconds + "\n");
      return ns.spawn(asPostgres("psql", "-X", "-A", "-t", "-q", "-h", sockets.toString(), "-p",
          Integer.toString(PORT), "-U", USER, "-d", "postgres", "-f", script.toString()).toArray(String[]::new));
    }

    /** Fast shutdown (bounded), then whatever is left of the process tree is killed. */
    void stop() {
      if (process == null) {
        return;
      }
      try {
        if (process.isAlive() && Files.exists(data.resolve("postmaster.pid"))) {
          exec(ns, Duration.ofSeconds(15), null, "pg_ctl", "-D", data.toString(), "-m", "fast", "-w", "-t", "10",
              "stop");
        }
      } finally {
        process.close();
      }
    }
  }

  @Override
  public void close() {
    RuntimeException failure = null;
    for (int i = servers.size() - 1; i >= 0; i--) {
      try {
        servers.get(i).stop();
      } catch (RuntimeException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException | UncheckedIOException e) {
      RuntimeException r = new IllegalStateException("cannot delete " + root + ": " + e.getMessage(), e);
      if (failure == null) {
        failure = r;
      } else {
        failure.addSuppressed(r);
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
