package io.dctun.appliance;

import io.dctun.crypto.PrivateKey;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code dctun genkey}: prints a new private key, as {@code wg genkey} does. */
@Command(name = "genkey", description = "Print a new private key (base64), like `wg genkey`.")
final class GenkeyCommand implements Callable<Integer> {
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getOut().println(PrivateKey.generate().toBase64());
    spec.commandLine().getOut().flush();
    return Main.EXIT_OK;
  }
}
