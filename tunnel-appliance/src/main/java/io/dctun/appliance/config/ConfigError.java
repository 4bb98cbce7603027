package io.dctun.appliance.config;

import java.nio.file.Path;

/**
 * One thing wrong with a configuration file.
 *
 * @param file the file, as the caller named it
 * @param line 1-based line, or 0 when the problem is with the file as a whole
 * @param field the field's path ({@code peers[1].allowed-ips[0]}), or empty for the file itself
 * @param message what is wrong, naming the offending value (never key material)
 */
public record ConfigError(Path file, int line, String field, String message) {
  /** {@code FILE:LINE: field: message}, the form editors and compilers use. */
  @Override
  public String toString() {
    return file + (line > 0 ? ":" + line : "") + ": " + (field.isEmpty() ? "" : field + ": ") + message;
  }
}
