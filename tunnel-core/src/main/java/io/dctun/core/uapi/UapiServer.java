package io.dctun.core.uapi;

import io.dctun.core.status.StatusSink;
import io.dctun.core.status.StatusSource;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves {@link Uapi} on {@code /var/run/wireguard/<interface>.sock}, where {@code wg} and wgctrl
 * look for a userspace WireGuard interface (they try that socket before the kernel's netlink).
 *
 * <p>One thread ({@code dctun-uapi}) runs a selector over the listening socket and at most
 * {@link Options#maxConnections} client connections, each a {@link UapiConnection}; a connection
 * gets {@link Options#timeoutMillis} in all (wg needs milliseconds), and a request at most {@link
 * Options#maxRequestBytes}. A client that sends nothing and closes (wg's probe) is not an error.
 *
 * <p>The socket file: the directory is created 0700 if absent (an existing one is left as it is:
 * wireguard-go makes it 0755); the socket is bound under a temporary name, made 0600, and renamed
 * into place, so it is never reachable with wider permissions. An existing socket that answers a
 * connect belongs to a live process: start refuses. One that does not is stale and is replaced.
 * {@link #close} removes the file if it is still this server's (not a successor's).
 *
 * <p>Thread-safety: {@link #start} and {@link #close} may be called from any thread.
 */
public final class UapiServer implements AutoCloseable, StatusSource {
  private static final Logger log = LoggerFactory.getLogger(UapiServer.class);
  /** Where wireguard-tools and wgctrl look on Linux. */
  public static final Path DEFAULT_DIRECTORY = Path.of("/var/run/wireguard");

  /** Bounds of the server. */
  public record Options(int maxConnections, long timeoutMillis, int maxRequestBytes) {
    public static final Options DEFAULT = new Options(16, 10_000, 4 << 20);

    public Options {
      if (maxConnections < 1 || timeoutMillis < 1 || maxRequestBytes < UapiConnection.MAX_LINE) {
        throw new IllegalArgumentException("UAPI server options out of range: " + maxConnections + " connections, "
            + timeoutMillis + " ms, " + maxRequestBytes + " bytes");
      }
    }
  }

  private final Uapi uapi;
  private final Path socketPath;
  private final Options options;
  private final ServerSocketChannel server;
  private final Selector selector;
  private final Object fileKey;
  private final Thread thread;
  private volatile boolean running = true;
  private final AtomicLong accepted = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong timedOut = new AtomicLong();

  private UapiServer(Uapi uapi, Path socketPath, Options options, ServerSocketChannel server, Selector selector, Object fileKey) {
    this.uapi = uapi;
    this.socketPath = socketPath;
    this.options = options;
    this.server = server;
    this.selector = selector;
    this.fileKey = fileKey;
    this.thread = new Thread(this::run, "dctun-uapi");
    this.thread.setDaemon(true);
  }

  /** Serves on {@code /var/run/wireguard/<interfaceName>.sock} with the default bounds. */
  public static UapiServer start(Uapi uapi, String interfaceName) throws IOException {
    return start(uapi, DEFAULT_DIRECTORY, interfaceName, Options.DEFAULT);
  }

  /**
   * Serves on {@code <directory>/<interfaceName>.sock}.
   *
   * @throws IOException if another live process serves that socket, or the socket cannot be made
   */
  public static UapiServer start(Uapi uapi, Path directory, String interfaceName, Options options) throws IOException {
    Objects.requireNonNull(uapi, "uapi");
    checkName(interfaceName);
    if (!Files.isDirectory(directory)) {
      try {
        Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwx------"));
      } catch (FileAlreadyExistsException raced) {
        // someone made it meanwhile: fine
      }
    }
    Path path = directory.resolve(interfaceName + ".sock");
    clearStale(path);
    Path tmp = directory.resolve("." + interfaceName + ".sock." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
    ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    Selector sel = null;
    boolean ok = false;
    try {
      ch.bind(UnixDomainSocketAddress.of(tmp), 16);
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      clearStale(path); // again, just before taking the name
      Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
      Object key = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
      ch.configureBlocking(false);
      sel = Selector.open();
      ch.register(sel, SelectionKey.OP_ACCEPT);
      UapiServer s = new UapiServer(uapi, path, options, ch, sel, key);
      s.thread.start();
      ok = true;
      log.info("uapi: serving {} (wg show {})", path, interfaceName);
      return s;
    } finally {
      if (!ok) {
        ch.close();
        if (sel != null) {
          sel.close();
        }
        Files.deleteIfExists(tmp);
      }
    }
  }

  /** wg refuses names with '/'; Linux interface names are 1..15 bytes. */
  static void checkName(String name) {
    if (name == null || name.isEmpty() || name.length() > 15 || name.indexOf('/') >= 0 || name.equals(".")
        || name.equals("..") || !name.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new IllegalArgumentException("UAPI interface name must be 1..15 printable characters without '/', got '" + name + "'");
    }
  }

  /** Refuses a live socket, removes a stale one; anything not a socket there is refused too. */
  private static void clearStale(Path path) throws IOException {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (java.nio.file.NoSuchFileException e) {
      return;
    }
    if (!a.isOther()) {
      throw new IOException(path + " exists and is not a socket; not touching it");
    }
    try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
      throw new IOException(path + " is served by another live process (a wireguard-go or dctun with this interface name?)");
    } catch (java.net.ConnectException stale) { // ECONNREFUSED: nobody listens
      log.info("uapi: replacing stale socket {}", path);
      Files.deleteIfExists(path);
    }
  }

  public Path socketPath() {
    return socketPath;
  }

  private static final class Client {
    final SocketChannel channel;
    final UapiConnection connection;
    final long deadline;
    ByteBuffer pending = ByteBuffer.allocate(0);

    Client(SocketChannel channel, UapiConnection connection, long deadline) {
      this.channel = channel;
      this.connection = connection;
      this.deadline = deadline;
    }
  }

  private volatile String stopped;

  private void run() {
    ByteBuffer in = ByteBuffer.allocate(16 * 1024);
    List<Client> clients = new ArrayList<>();
    try {
      while (running) {
        long now = System.nanoTime();
        long wait = Long.MAX_VALUE;
        for (Iterator<Client> it = clients.iterator(); it.hasNext(); ) {
          Client c = it.next();
          if (now - c.deadline >= 0) {
            timedOut.incrementAndGet();
            uapi.count("timeout", "uapi: a client took longer than " + options.timeoutMillis() + " ms; closed");
            closeQuietly(c.channel);
            it.remove();
          } else {
            wait = Math.min(wait, c.deadline - now);
          }
        }
        selector.select(wait == Long.MAX_VALUE ? 0 : Math.max(1, wait / 1_000_000L));
        for (Iterator<SelectionKey> it = selector.selectedKeys().iterator(); it.hasNext(); ) {
          SelectionKey k = it.next();
          it.remove();
          try {
            if (!k.isValid()) {
              continue;
            }
            if (k.isAcceptable()) {
              accept(clients);
            } else {
              Client c = (Client) k.attachment();
              if (!serve(k, c, in)) {
                closeQuietly(c.channel);
                clients.remove(c);
              }
            }
          } catch (IOException e) {
            if (k.attachment() instanceof Client c) {
              closeQuietly(c.channel);
              clients.remove(c);
            }
          }
        }
      }
    } catch (ClosedSelectorException | IOException e) {
      if (running) {
        stopped = "stopped: " + e;
        log.error("uapi: server stopped; wg no longer sees this interface (the tunnel is not affected)", e);
      }
    } catch (RuntimeException | Error e) {
      stopped = "stopped by a bug: " + e;
      log.error("uapi: bug in the UAPI server, it stopped; wg no longer sees this interface (the tunnel is not "
          + "affected)", e);
      if (e instanceof Error err) {
        throw err;
      }
    } finally {
      for (Client c : clients) {
        closeQuietly(c.channel);
      }
    }
  }

  private void accept(List<Client> clients) throws IOException {
    SocketChannel ch;
    while ((ch = server.accept()) != null) {
      if (clients.size() >= options.maxConnections()) {
        refused.incrementAndGet();
        uapi.count("too-many-connections", "uapi: more than " + options.maxConnections() + " connections at once; one refused");
        closeQuietly(ch);
        continue;
      }
      accepted.incrementAndGet();
      ch.configureBlocking(false);
      Client c = new Client(ch, new UapiConnection(uapi, options.maxRequestBytes()),
          System.nanoTime() + options.timeoutMillis() * 1_000_000L);
      ch.register(selector, SelectionKey.OP_READ, c);
      clients.add(c);
    }
  }

  /** Reads and answers what there is; false when the connection is done. */
  private boolean serve(SelectionKey k, Client c, ByteBuffer in) throws IOException {
    if (k.isReadable() && !c.pending.hasRemaining()) {
      in.clear();
      int n = c.channel.read(in);
      if (n < 0) {
        c.connection.endOfInput();
      } else if (n > 0) {
        c.connection.receive(in.array(), 0, n);
      }
      byte[] out = c.connection.takeOutput();
      if (out.length > 0) {
        c.pending = ByteBuffer.wrap(out);
      }
    }
    if (c.pending.hasRemaining()) {
      c.channel.write(c.pending);
    }
    if (c.pending.hasRemaining()) {
      k.interestOps(SelectionKey.OP_WRITE); // the answer first, then more of the request
      return true;
    }
    if (c.connection.isClosing()) {
      return false;
    }
    k.interestOps(SelectionKey.OP_READ);
    return true;
  }

  private static void closeQuietly(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // nothing to do
    }
  }

  /** Stops serving and removes the socket file if it is still this server's. */
  @Override
  public void close() {
    if (!running) {
      return;
    }
    running = false;
    selector.wakeup();
    try {
      thread.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeQuietlyServer();
    try {
      BasicFileAttributes a = Files.readAttributes(socketPath, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      if (Objects.equals(a.fileKey(), fileKey)) {
        Files.deleteIfExists(socketPath);
      }
    } catch (IOException gone) {
      // already removed
    }
  }

  private void closeQuietlyServer() {
    try {
      server.close();
      selector.close();
    } catch (IOException ignored) {
      // nothing to do
    }
  }

  /**
   * Why the server thread ended while the server was open, or null. Not fatal to a gateway: the
   * tunnel does not need it (the management side is not worth a failover), but the status says so.
   */
  public String stopped() {
    return stopped;
  }

  /** {@code socket}, the connection counters, {@code state} (serving, or why it stopped), then the API's own. */
  @Override
  public void report(StatusSink s) {
    s.text("socket", socketPath.toString());
    String st = stopped;
    s.text("state", st == null ? "serving" : st);
    s.counter("connections", accepted.get());
    s.counter("connections-refused", refused.get());
    s.counter("timeouts", timedOut.get());
    uapi.report(s);
  }
}
