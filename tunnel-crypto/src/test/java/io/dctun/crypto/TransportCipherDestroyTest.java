package io.dctun.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.security.SecureRandom;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A rotated-out transport key is zeroed in every copy dctun holds, for each implementation. */
class TransportCipherDestroyTest {

  @ParameterizedTest
  @EnumSource(Aead.Impl.class)
  void destroyZeroesTheKeyTheCipherHolds(Aead.Impl impl) throws Exception {
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    TransportCipher sealer = Aead.transport(impl, key.clone(), true);
    byte[] buf = new byte[64 + 16];
    assertThat(sealer.seal(0, buf, 0, 64)).isEqualTo(80);

    sealer.destroy();

    switch (impl) {
      case JAVA -> {
        for (String f : new String[] {"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "r0", "s0"}) {
          assertThat(((Number) field(sealer, f)).longValue()).as(f).isZero();
        }
        assertThat((int[]) field(sealer, "block")).containsOnly(0);
      }
      case BOUNCYCASTLE -> {
        byte[] held = ((org.bouncycastle.crypto.params.KeyParameter) field(sealer, "key")).getKey();
        assertThat(held).containsOnly((byte) 0);
      }
      case JDK -> assertThat(((SecretKeySpec) field(sealer, "key")).getEncoded())
          .as("the JDK's own copies are out of reach; ours is dropped").containsOnly((byte) 0);
    }
  }

  private static Object field(Object o, String name) throws Exception {
    Field f = o.getClass().getDeclaredField(name);
    f.setAccessible(true);
    return f.get(o);
  }
}
