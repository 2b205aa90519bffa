package org.snapshot.ycsb;

import site.ycsb.Status;

/**
 * A binding's failed operation: YCSB counts it (Return=ERROR, which run-ycsb-java.sh rejects);
 * the first one per JVM is also printed with its cause, so the reason is in YCSB's log.
 */
final class Failures {
  private static boolean printed;

  private Failures() {
  }

  static synchronized Status failed(String binding, String op, String key, RuntimeException e) {
    if (!printed) {
      printed = true;
      System.err.println(binding + ": " + op + " " + key + " failed: " + e);
    }
    return Status.ERROR;
  }
}
