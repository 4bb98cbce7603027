package io.dctun.appliance;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dctun.crypto.KeyFiles;
import io.dctun.crypto.PrivateKey;
import io.dctun.firewall.spi.RuleModule;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's own rule module ({@code EvenPortModule}), built the way a new user builds it and
 * run through the real {@code dctun} launcher with its modules directory ({@code DCTUN_MODULES}).
 * The module's source, its {@code META-INF/services} line and the rule that uses it are read from
 * README.md's code blocks at test time, so the README and this test cannot drift apart; the module
 * is compiled with javax.tools against tunnel-firewall alone.
 *
 * <p>The launcher runs {@code tunnel-appliance/target/dctun.jar}, which exists only after the
 * package phase: pom.xml runs this class in {@code mvn verify} (what {@code scripts/test} and CI
 * run) in the surefire execution {@code launcher}, after package, which sets {@code dctun.jar}.
 * Anywhere else (a plain {@code mvn test -Dtest=...}) it skips with a message rather than run a
 * stale jar, or let the launcher build one.
 */
@Timeout(180)
class ModulePathTest {
  private static final long PROCESS_TIMEOUT_SECONDS = 60;

  @TempDir static Path dir;
  static Path root;
  static Path moduleDir;
  static Path config;

  @BeforeAll
  static void buildReadmeModule() throws Exception {
    String jar = System.getProperty("dctun.jar");
    assumeTrue(jar != null, "ModulePathTest runs the dctun launcher on the packaged jar: it runs in `mvn verify` "
        + "(scripts/test) after the package phase, surefire execution 'launcher' of tunnel-appliance");
    assertThat(Path.of(jar)).as("the package phase built the jar the launcher runs").isRegularFile();
    root = Path.of(System.getProperty("dctun.root")).toAbsolutePath().normalize();
    assertThat(root.resolve("dctun")).isExecutable();

    List<Block> blocks = Block.parse(Files.readString(root.resolve("README.md"), UTF_8));
    String source = Block.find(blocks, "java", "class EvenPortModule").text;
    String services = Block.find(blocks, "", "META-INF/services/").text;
    String rule = Block.find(blocks, "yaml", "module: even-port").text;

    // The module, as the README says: source under its package, compiled against tunnel-firewall.
    String pkg = firstMatch(source, "(?m)^package ([\\w.]+);");
    String className = pkg + ".EvenPortModule";
    Path src = dir.resolve("src").resolve(pkg.replace('.', '/')).resolve("EvenPortModule.java");
    Files.createDirectories(src.getParent());
    Files.writeString(src, source, UTF_8);
    Path classes = Files.createDirectories(dir.resolve("classes"));
    compile(src, classes, Path.of(RuleModule.class.getProtectionDomain().getCodeSource().getLocation().toURI()));

    // Its service registration: the README's block is "# <path>" and then the class name.
    List<String> serviceLines = services.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
    String servicePath = serviceLines.get(0).replaceFirst("^#\\s*src/main/resources/", "");
    assertThat(servicePath).isEqualTo("META-INF/services/" + RuleModule.class.getName());
    assertThat(serviceLines.subList(1, serviceLines.size())).as("README's services file names the module").containsExactly(className);

    moduleDir = Files.createDirectories(dir.resolve("modules"));
    writeJar(moduleDir.resolve("even-port.jar"), classes, servicePath, String.join("\n", serviceLines.subList(1, serviceLines.size())) + "\n");

    // A gateway whose firewall is the README's rule and nothing else.
    KeyFiles.writePrivateKey(dir.resolve("gw.key"), PrivateKey.generate());
    config = dir.resolve("gw.yaml");
    Files.writeString(config, "private-key-file: gw.key\n"
        + "listen-port: 51820\n"
        + "peers:\n"
        + "  - name: site-b\n"
        + "    public-key: " + PrivateKey.generate().publicKey().toBase64() + "\n"
        + "    allowed-ips: [198.18.20.0/24]\n"
        + "firewall:\n"
        + "  rules:\n"
        + rule, UTF_8);
  }

  @Test
  void theReadmeModuleInTheModulesDirectoryIsAcceptedByCheck() throws Exception {
    Path empty = Files.createDirectories(dir.resolve("no-modules"));
    // Two directories, colon-separated, as DCTUN_MODULES allows.
    Run r = launcher(empty + ":" + moduleDir, "check", "-c", config.toString());
    assertThat(r.exit).as(r.toString()).isZero();
    assertThat(r.out).as(r.toString()).contains(": OK", "firewall: default deny, 1 rule(s)", "rule modules: even-port, time-window\n");
    assertThat(r.err).as(r.toString()).doesNotContain("no rule module");
  }

  @Test
  void theReadmeModuleDecidesWhatFirewallExplainAnswers() throws Exception {
    String[] packet = {"firewall", "explain", "-c", config.toString(), "--from", "site-b", "--proto", "tcp",
        "--src", "198.18.20.5", "--dst", "198.18.10.5", "--dport"};
    Run even = launcher(moduleDir.toString(), concat(packet, "5432"));
    assertThat(even.exit).as(even.toString()).isZero();
    assertThat(even.out).as(even.toString()).startsWith("ACCEPT").contains("rule 'even-ports-only'");

    Run odd = launcher(moduleDir.toString(), concat(packet, "5433"));
    assertThat(odd.exit).as(odd.toString()).isZero();
    assertThat(odd.out).as(odd.toString()).startsWith("DROP").contains("no rule matches").doesNotContain("even-ports-only");
  }

  @Test
  void withoutTheModuleTheSameFileIsRefusedNamingTheModule() throws Exception {
    Path empty = Files.createDirectories(dir.resolve("empty-modules"));
    Run r = launcher(empty.toString(), "check", "-c", config.toString());
    assertThat(r.exit).as(r.toString()).isEqualTo(Main.EXIT_CONFIG);
    assertThat(r.err).as(r.toString()).contains("gw.yaml:", "(even-ports-only).match",
        "rule 'even-ports-only': no rule module named 'even-port' (loaded: [time-window])");
  }

  @Test
  void aModulesDirectoryThatIsMissingStopsTheLaunchWithItsName() throws Exception {
    Path missing = dir.resolve("no-such-dir");
    Run r = launcher(missing.toString(), "check", "-c", config.toString());
    assertThat(r.exit).as(r.toString()).isEqualTo(2);
    assertThat(r.err).as(r.toString()).contains("modules directory " + missing + " is missing or not readable");
    assertThat(r.out).isEmpty();
  }

  @Test
  void aBrokenJarLinkInTheModulesDirectoryStopsTheLaunchWithItsPath() throws Exception {
    // A symlink to a jar that is gone (a removed package): unreadable for root too.
    Path mods = Files.createDirectories(dir.resolve("broken-link"));
    Files.copy(moduleDir.resolve("even-port.jar"), mods.resolve("even-port.jar"));
    Path link = Files.createSymbolicLink(mods.resolve("gone.jar"), dir.resolve("removed/gone.jar"));
    Run r = launcher(mods.toString(), "check", "-c", config.toString());
    assertThat(r.exit).as(r.toString()).isEqualTo(2);
    assertThat(r.err).as(r.toString()).contains("module jar " + link + " is not a readable file");
    assertThat(r.out).isEmpty();
  }

  @Test
  void aJarWithoutReadPermissionStopsTheLaunchWithItsPath() throws Exception {
    Path mods = Files.createDirectories(dir.resolve("unreadable"));
    Path jar = Files.copy(moduleDir.resolve("even-port.jar"), mods.resolve("even-port.jar"));
    Files.setPosixFilePermissions(jar, PosixFilePermissions.fromString("---------"));
    assumeTrue(!Files.isReadable(jar), "running as root, which reads any file: the broken-link test covers the check");
    Run r = launcher(mods.toString(), "check", "-c", config.toString());
    assertThat(r.exit).as(r.toString()).isEqualTo(2);
    assertThat(r.err).as(r.toString()).contains("module jar " + jar + " is not a readable file");
  }

  // --- helpers ---

  /** A finished launcher run. */
  record Run(int exit, String out, String err) {
    @Override
    public String toString() {
      return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  /** Runs {@code <root>/dctun args} with {@code DCTUN_MODULES=modules} and this test's JDK. */
  private static Run launcher(String modules, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(root.resolve("dctun").toString());
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile(dir, "out", ".txt");
    Path err = Files.createTempFile(dir, "err", ".txt");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    Map<String, String> env = pb.environment();
    env.remove("DCTUN_JAVA_OPTS");
    env.remove("CLASSPATH");
    env.put("DCTUN_JAVA_HOME", System.getProperty("java.home"));
    env.put("DCTUN_MODULES", modules);
    Process p = pb.start();
    if (!p.waitFor(PROCESS_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError("dctun " + String.join(" ", args) + " still running after " + PROCESS_TIMEOUT_SECONDS
          + " s\n--- stdout\n" + Files.readString(out) + "--- stderr\n" + Files.readString(err));
    }
    return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  private static void compile(Path source, Path classes, Path firewallClasses) throws IOException {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertThat(javac).as("a JDK runs the tests").isNotNull();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, UTF_8)) {
      List<String> options = List.of("--release", "17",
          "-cp", firewallClasses.toString(), "-d", classes.toString());
      boolean ok = javac.getTask(null, files, diagnostics, options, null, files.getJavaFileObjects(source)).call();
      assertThat(ok).as("README's EvenPortModule compiles against tunnel-firewall (" + firewallClasses + "): "
          + diagnostics.getDiagnostics()).isTrue();
    }
  }

  private static void writeJar(Path jar, Path classes, String servicePath, String serviceText) throws IOException {
    try (OutputStream fo = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(fo);
        Stream<Path> walk = Files.walk(classes)) {
      for (Path c : walk.filter(Files::isRegularFile).sorted().toList()) {
        j.putNextEntry(new JarEntry(classes.relativize(c).toString().replace('\\', '/')));
        j.write(Files.readAllBytes(c));
        j.closeEntry();
      }
      j.putNextEntry(new JarEntry(servicePath));
      j.write(serviceText.getBytes(UTF_8));
      j.closeEntry();
    }
  }

  private static String firstMatch(String text, String regex) {
    var m = java.util.regex.Pattern.compile(regex).matcher(text);
    assertThat(m.find()).as("'" + regex + "' in\n" + text).isTrue();
    return m.group(1);
  }

  private static String[] concat(String[] a, String last) {
    String[] r = java.util.Arrays.copyOf(a, a.length + 1);
    r[a.length] = last;
    return r;
  }

  /** A fenced code block of a Markdown file: its info string ({@code java}, or empty) and text. */
  record Block(String lang, String text) {
    static List<Block> parse(String markdown) {
      List<Block> blocks = new ArrayList<>();
      String lang = null;
      StringBuilder text = new StringBuilder();
      for (String line : markdown.split("\n", -1)) {
        if (line.startsWith("```")) {
          if (lang == null) {
            lang = line.substring(3).strip();
            text.setLength(0);
          } else {
            blocks.add(new Block(lang, text.toString()));
            lang = null;
          }
        } else if (lang != null) {
          text.append(line).append('\n');
        }
      }
      return blocks;
    }

    /** The one block of {@code lang} that contains {@code marker}. */
    static Block find(List<Block> blocks, String lang, String marker) {
      List<Block> found = blocks.stream().filter(b -> b.lang.equals(lang) && b.text.contains(marker)).toList();
      assertThat(found).as("README.md has exactly one ```" + lang + " block containing '" + marker + "': "
          + found.stream().map(Block::text).collect(Collectors.joining("\n---\n"))).hasSize(1);
      return found.get(0);
    }
  }
}
