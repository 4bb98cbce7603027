package io.dctun.appliance;

import io.dctun.crypto.PrivateKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/** {@code dctun pubkey}: reads a private key on stdin and prints its public key, as {@code wg pubkey} does. */
@Command(name = "pubkey", description = "Read a private key from stdin and print its public key, like `wg pubkey`.")
final class PubkeyCommand implements Callable<Integer> {
  private static final int MAX_INPUT = 1024;

  @ParentCommand Main main;
  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    byte[] in = main.stdin.readNBytes(MAX_INPUT + 1);
    try {
      if (in.length > MAX_INPUT) {
        spec.commandLine().getErr().println("dctun pubkey: stdin is too long to be a private key");
        return Main.EXIT_CONFIG;
      }
      PrivateKey key = PrivateKey.fromBase64(new String(in, StandardCharsets.US_ASCII));
      spec.commandLine().getOut().println(key.publicKey().toBase64());
      spec.commandLine().getOut().flush();
      return Main.EXIT_OK;
    } catch (IllegalArgumentException e) {
      spec.commandLine().getErr().println("dctun pubkey: stdin does not hold a private key: " + e.getMessage());
      spec.commandLine().getErr().flush();
      return Main.EXIT_CONFIG;
    } finally {
      Arrays.fill(in, (byte) 0);
    }
  }
}
