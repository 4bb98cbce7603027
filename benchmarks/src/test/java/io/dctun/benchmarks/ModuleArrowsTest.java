package io.dctun.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SlicesRuleDefinition;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The module arrows of DESIGN.md, section "Modules (Maven reactor)" (the table's "depends on"
 * column and the paragraph under it: "A module never reaches into another's internals; the
 * arrows above are the only ones, and a test enforces them"), checked on the compiled main
 * classes of every module:
 *
 * <ul>
 *   <li>a module's classes use only classes of its own module and of the modules its arrows
 *       point to ({@link #ARROWS}, a copy of the table as data);
 *   <li>no class uses a package of another module whose name has an {@code internal} segment;
 *   <li>the module graph the classes actually form has no cycle;
 *   <li>the {@code io.dctun} dependencies each {@code pom.xml} declares outside test scope are
 *       arrows of the table too.
 * </ul>
 *
 * <p>What the code breaks today is listed in {@link #KNOWN}, each entry with its reason. The
 * test fails on a violation that is not listed, and also on a listed one that is no longer
 * found, so the list can only shrink honestly: fix the code, then delete the entry. To add an
 * arrow, change DESIGN.md first and {@link #ARROWS} with it.
 *
 * <p><b>Tool: ArchUnit</b> ({@code archunit-junit5}, test scope in this module only). It reads
 * bytecode, so it sees every use, not only {@code import} lines: fully-qualified names in code
 * (tunnel-ha's {@code StateSync} names {@code io.dctun.crypto.PublicKey} without importing it),
 * signatures, generics, annotations, throws clauses, lambdas; it reports each use with its
 * source line, and does the cycle check ({@link SlicesRuleDefinition}). The comparison with
 * the table and the known-violation list are plain Java over ArchUnit's model rather than
 * ArchUnit's {@code FreezingArchRule}: that keeps violations in a store file without reasons
 * and forgets fixed ones silently, where this list must be named, argued and kept exact.
 * Limit (of any bytecode check): javac inlines compile-time constants ({@code static final}
 * primitives and strings), so using another module's constant leaves no trace.
 *
 * <p><b>Why in benchmarks:</b> it is the one module the table lets depend on all the others,
 * the appliance included (the appliance's tests could not see benchmarks' classes), so here
 * every module's main classes are on the test classpath with no new arrow. The extra modules
 * are test-scoped dependencies and do not reach the benchmark jar. Run alone with {@code mvn -pl
 * benchmarks -am test -Dtest=ModuleArrowsTest -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class ModuleArrowsTest {

  /** A reactor module, the artifact it is built into and the package root its classes live under. */
  enum Module {
    CRYPTO("tunnel-crypto", "crypto"),
    CORE("tunnel-core", "core"),
    TUN("tunnel-tun", "tun"),
    FIREWALL("tunnel-firewall", "firewall"),
    HA("tunnel-ha", "ha"),
    APPLIANCE("tunnel-appliance", "appliance"),
    BENCHMARKS("benchmarks", "benchmarks");

    final String artifact;
    final String root;

    Module(String artifact, String segment) {
      this.artifact = artifact;
      this.root = "io.dctun." + segment;
    }

    static Optional<Module> ofPackage(String pkg) {
      for (Module m : values()) {
        if (pkg.equals(m.root) || pkg.startsWith(m.root + ".")) {
          return Optional.of(m);
        }
      }
      return Optional.empty();
    }

    static Optional<Module> ofArtifact(String artifact) {
      for (Module m : values()) {
        if (m.artifact.equals(artifact)) {
          return Optional.of(m);
        }
      }
      return Optional.empty();
    }

    @Override
    public String toString() {
      return artifact;
    }
  }

  /**
   * DESIGN.md, "Modules (Maven reactor)", column "depends on", the dctun modules only (the
   * third-party libraries there are not checked here). "all" is every other module; for the
   * appliance that means the libraries, not benchmarks.
   *
   * <p>One deviation, on purpose: DESIGN.md lists firewall and ha as depending on core only
   * (plus firewall and tun for ha), but core's own API hands out crypto's {@code PublicKey} (a
   * peer's identity) and ha's state sync MACs with crypto's BLAKE2s. Using a type core's API
   * exposes is the arrow core -> crypto seen from above, not a new dependency; the table here
   * gives firewall and ha the crypto arrow, and the issue note says DESIGN.md should too.
   */
  static final Map<Module, Set<Module>> ARROWS = Map.of(
      Module.CORE, Set.of(Module.CRYPTO),
      Module.CRYPTO, Set.of(),
      Module.TUN, Set.of(Module.CORE),
      Module.FIREWALL, Set.of(Module.CORE, Module.CRYPTO),
      Module.HA, Set.of(Module.CORE, Module.CRYPTO, Module.FIREWALL, Module.TUN),
      Module.APPLIANCE, Set.of(Module.CORE, Module.CRYPTO, Module.TUN, Module.FIREWALL, Module.HA),
      Module.BENCHMARKS, Set.of(Module.CORE, Module.CRYPTO, Module.TUN, Module.FIREWALL, Module.HA,
          Module.APPLIANCE));

  enum Kind {
    /** A use of a module that is not among the user's arrows. */
    ARROW,
    /** A use of another module's {@code ...internal...} package. */
    INTERNAL
  }

  /** One violation: a top-level class (nested classes count as their outer one) using a package. */
  record Use(Kind kind, String fromClass, String toPackage) implements Comparable<Use> {
    @Override
    public int compareTo(Use o) {
      return toString().compareTo(o.toString());
    }

    @Override
    public String toString() {
      return kind + " " + fromClass + " -> " + toPackage;
    }
  }

  record Known(Use use, String reason) {}

  /**
   * The violations the code has today. Shrink it by fixing the code; never grow it to make a
   * new violation pass without saying so in DESIGN.md's terms.
   */
  static final List<Known> KNOWN = List.of();

  private static JavaClasses classes;

  @BeforeAll
  static void importMainClasses() {
    classes = new ClassFileImporter()
        .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("io.dctun");
  }

  @Test
  void everyModulesMainClassesAreImportedFromThatModule() {
    Map<Module, Integer> counts = new EnumMap<>(Module.class);
    List<String> misplaced = new ArrayList<>();
    for (JavaClass c : classes) {
      Optional<Module> m = Module.ofPackage(c.getPackageName());
      if (m.isEmpty()) {
        misplaced.add(c.getName() + ": under no module's package root (a new module? add it to Module and ARROWS)");
        continue;
      }
      counts.merge(m.get(), 1, Integer::sum);
      Optional<Module> built = builtBy(c);
      if (built.isPresent() && built.get() != m.get()) {
        misplaced.add(c.getName() + ": in " + m.get() + "'s package root but built by " + built.get());
      }
    }
    assertThat(misplaced).as("classes whose module is unclear; the other checks would judge them wrongly").isEmpty();
    // Without this an empty classpath would pass every other test.
    assertThat(counts.keySet()).as("modules with main classes on this test's classpath")
        .containsExactlyInAnyOrder(Module.values());
  }

  @Test
  void mainClassesUseOnlyTheArrowsOfDesignMd() {
    assertMatchesKnown(Kind.ARROW);
  }

  @Test
  void noModuleUsesAnotherModulesInternalPackages() {
    assertMatchesKnown(Kind.INTERNAL);
  }

  @Test
  void modulesFormNoCycle() {
    assertThat(ARROWS.keySet()).as("ARROWS has a row for every module").containsExactlyInAnyOrder(Module.values());
    assertThat(cycle(ARROWS)).as("a cycle in ARROWS itself (DESIGN.md's table)").isEmpty();
    // Also the graph the code forms, known violations included: each module's classes are one slice.
    SlicesRuleDefinition.slices().matching("io.dctun.(*)..").namingSlices("$1")
        .should().beFreeOfCycles()
        .because("DESIGN.md's module arrows form no cycle, and the code must not either")
        .check(classes);
  }

  @Test
  void pomDependenciesAreArrowsOfDesignMd() throws Exception {
    Path reactor = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().getParent();
    List<String> wrong = new ArrayList<>();
    for (Module m : Module.values()) {
      Path pom = reactor.resolve(m.artifact).resolve("pom.xml");
      assertThat(pom).as("the reactor beside this module").exists();
      NodeList deps = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(pom.toFile())
          .getDocumentElement().getElementsByTagName("dependency");
      for (int i = 0; i < deps.getLength(); i++) {
        Element d = (Element) deps.item(i);
        if (d.getParentNode().getParentNode() != d.getOwnerDocument().getDocumentElement()) {
          continue; // a dependencyManagement or plugin entry, not this module's dependency
        }
        String scope = text(d, "scope");
        Optional<Module> to = "io.dctun".equals(text(d, "groupId")) ? Module.ofArtifact(text(d, "artifactId"))
            : Optional.empty();
        if (to.isPresent() && !"test".equals(scope) && !ARROWS.get(m).contains(to.get())) {
          wrong.add(m + " -> " + to.get() + " (" + pom + ")");
        }
      }
    }
    assertThat(wrong).as("Maven dependencies (outside test scope) that DESIGN.md's table does not have").isEmpty();
  }

  private static void assertMatchesKnown(Kind kind) {
    Map<Use, Dependency> found = violations(kind);
    List<Use> listed = KNOWN.stream().map(Known::use).filter(u -> u.kind() == kind).toList();
    Set<Use> known = new TreeSet<>(listed);
    List<String> problems = new ArrayList<>();
    if (known.size() != listed.size()) {
      problems.add("an entry is listed twice in KNOWN: " + listed);
    }
    for (Map.Entry<Use, Dependency> e : found.entrySet()) {
      if (!known.contains(e.getKey())) {
        problems.add("new: " + e.getKey() + ", e.g. " + e.getValue().getDescription());
      }
    }
    for (Use u : known) {
      if (!found.containsKey(u)) {
        problems.add("gone: " + u + " is no longer found; delete it from KNOWN");
      }
    }
    if (!problems.isEmpty()) {
      fail(kind + " violations differ from ModuleArrowsTest.KNOWN (DESIGN.md, \"Modules (Maven reactor)\"):\n  "
          + String.join("\n  ", problems));
    }
  }

  /** Every violation of this kind, with one example dependency each (the first in source order). */
  static Map<Use, Dependency> violations(Kind kind) {
    Map<Use, Dependency> out = new TreeMap<>();
    for (JavaClass c : classes) {
      Optional<Module> from = Module.ofPackage(c.getPackageName());
      if (from.isEmpty()) {
        continue; // reported by everyModulesMainClassesAreImportedFromThatModule
      }
      for (Dependency d : c.getDirectDependenciesFromSelf()) {
        JavaClass target = d.getTargetClass();
        if (target.isArray()) {
          target = target.getBaseComponentType();
        }
        String pkg = target.getPackageName();
        Optional<Module> to = Module.ofPackage(pkg);
        if (to.isEmpty() || to.get() == from.get()) {
          continue;
        }
        boolean broken = switch (kind) {
          case ARROW -> !ARROWS.get(from.get()).contains(to.get());
          case INTERNAL -> ("." + pkg + ".").contains(".internal.");
        };
        if (broken) {
          out.putIfAbsent(new Use(kind, topLevel(c.getName()), pkg), d);
        }
      }
    }
    return out;
  }

  /** A cycle of the graph as a path that starts and ends at the same module, or an empty list. */
  static List<Module> cycle(Map<Module, Set<Module>> graph) {
    Map<Module, Integer> state = new EnumMap<>(Module.class); // 1: on the path, 2: done
    for (Module start : graph.keySet()) {
      List<Module> path = new ArrayList<>();
      if (visit(start, graph, state, path)) {
        return path;
      }
    }
    return List.of();
  }

  private static boolean visit(Module m, Map<Module, Set<Module>> graph, Map<Module, Integer> state,
      List<Module> path) {
    Integer s = state.get(m);
    if (s != null && s == 2) {
      return false;
    }
    path.add(m);
    if (s != null) {
      path.subList(0, path.indexOf(m)).clear();
      return true;
    }
    state.put(m, 1);
    for (Module next : graph.getOrDefault(m, Set.of())) {
      if (visit(next, graph, state, path)) {
        return true;
      }
    }
    state.put(m, 2);
    path.remove(path.size() - 1);
    return false;
  }

  private static final Pattern BUILT_BY = Pattern.compile(
      "/(tunnel-[a-z]+|benchmarks)/target/classes/|/(tunnel-[a-z]+|benchmarks)-[^/!]*\\.jar!");

  /** The module whose build output the class was read from, if its location says so. */
  private static Optional<Module> builtBy(JavaClass c) {
    return c.getSource().flatMap(s -> {
      Matcher m = BUILT_BY.matcher(s.getUri().toString());
      return m.find() ? Module.ofArtifact(m.group(1) != null ? m.group(1) : m.group(2)) : Optional.empty();
    });
  }

  private static String topLevel(String className) {
    int dollar = className.indexOf('$');
    return dollar < 0 ? className : className.substring(0, dollar);
  }

  private static String text(Element dependency, String tag) {
    NodeList n = dependency.getElementsByTagName(tag);
    return n.getLength() == 0 ? null : n.item(0).getTextContent().trim();
  }

  private static Known known(Kind kind, String fromClass, String toPackage, String reason) {
    return new Known(new Use(kind, fromClass, toPackage), reason);
  }
}
