package io.dctun.appliance;

import io.dctun.appliance.config.ConfigException;
import io.dctun.appliance.config.ConfigLoader;
import io.dctun.appliance.config.ConfigWriter;
import io.dctun.appliance.config.GatewayConfig;
import io.dctun.appliance.wgquick.WgQuickImporter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code dctun import-wg FILE [-o OUT]}: converts a wg-quick configuration. Keys go to files beside
 * OUT (or into the current directory when the YAML goes to stdout); lines that cannot be carried
 * over are listed on stderr; the result is checked as {@code dctun check} would.
 */
@Command(name = "import-wg", description = "Convert a wg-quick .conf file into a dctun YAML configuration.")
final class ImportWgCommand implements Callable<Integer> {
  private static final Pattern INTERFACE_NAME = Pattern.compile("[a-zA-Z0-9_.-]{1,15}");

  @ParentCommand Main main;
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "FILE", description = "the wg-quick configuration, e.g. wg0.conf")
  Path source;

  @Option(names = {"-o", "--output"}, paramLabel = "OUT", description = "write the YAML here instead of stdout")
  Path output;

  @Option(names = "--interface", paramLabel = "NAME", description = "interface name (default: FILE's name without .conf)")
  String interfaceName;

  @Option(names = "--force", description = "replace existing key files")
  boolean force;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Path src = main.resolve(source);
    String name = interfaceName != null ? interfaceName : WgQuickImporter.interfaceName(src);
    if (!INTERFACE_NAME.matcher(name).matches()) {
      err.println("dctun import-wg: '" + name + "' is not a valid interface name (1-15 characters of a-z A-Z 0-9 _ . -); pass --interface NAME");
      err.flush();
      return Main.EXIT_USAGE;
    }
    WgQuickImporter.Parsed parsed;
    try {
      parsed = WgQuickImporter.parse(src);
    } catch (ConfigException e) {
      CheckCommand.printErrors(err, e);
      return Main.EXIT_CONFIG;
    }
    for (WgQuickImporter.Skipped s : parsed.skipped()) {
      err.println(source + ":" + s.line() + ": " + s.key() + " not carried over: " + s.reason());
    }
    for (String note : parsed.notes()) {
      err.println(source + ":" + note);
    }

    Path outFile = output == null ? null : main.resolve(output).toAbsolutePath().normalize();
    Path dir = outFile == null ? main.currentDir() : outFile.getParent();
    GatewayConfig cfg = WgQuickImporter.write(parsed, name, dir, force);
    // On stdout the YAML may be saved anywhere, so it names the key files absolutely.
    String yaml = "# imported from " + src.getFileName() + " by dctun import-wg\n"
        + ConfigWriter.toYaml(cfg, outFile == null ? Path.of("/nonexistent-dir") : dir);
    if (outFile == null) {
      out.print(yaml);
      out.flush();
      err.println("dctun import-wg: wrote the private key to " + cfg.privateKeyFile() + " (mode 0600)"
          + (cfg.peers().stream().anyMatch(p -> p.presharedKeyFile().isPresent()) ? ", preshared keys beside it" : ""));
    } else {
      Files.writeString(outFile, yaml);
      err.println("dctun import-wg: wrote " + outFile + " and its key files in " + dir + " (mode 0600)");
    }
    try {
      ConfigLoader.parse(outFile != null ? outFile : dir.resolve(name + ".yaml"), yaml);
    } catch (ConfigException e) {
      err.println("dctun import-wg: the converted configuration does not pass `dctun check`:");
      CheckCommand.printErrors(err, e);
      return Main.EXIT_CONFIG;
    }
    err.flush();
    return Main.EXIT_OK;
  }
}
