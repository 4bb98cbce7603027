# Sourced by the launcher and the test script: sets JAVA_HOME to the newest JDK >= 17 under
# /usr/lib/jvm (or keeps DCTUN_JAVA_HOME if set). JDK 21+ is much faster for ChaCha20-Poly1305.
java_major() {
  local v
  v=$("$1" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n1) || true
  v=${v#1.}
  v=${v%%[.+-]*}
  [[ $v =~ ^[0-9]+$ ]] && echo "$v" || echo 0
}

pick_jdk() {
  local best="" best_major=0 candidate m
  if [[ -n "${DCTUN_JAVA_HOME:-}" ]]; then
    JAVA_HOME=$DCTUN_JAVA_HOME
    JDK_MAJOR=$(java_major "$JAVA_HOME/bin/java")
    export JAVA_HOME JDK_MAJOR
    return 0
  fi
  for candidate in /usr/lib/jvm/*/bin/javac; do
    [[ -x $candidate ]] || continue
    m=$(java_major "${candidate%c}")
    if (( m >= 17 && m > best_major )); then
      best=$(dirname -- "$(dirname -- "$candidate")")
      best_major=$m
    fi
  done
  if [[ -z $best ]]; then
    echo "no JDK 17 or newer under /usr/lib/jvm" >&2
    return 1
  fi
  JAVA_HOME=$best
  JDK_MAJOR=$best_major
  export JAVA_HOME JDK_MAJOR
}
