package org.snapshot.ycsb.trace;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.Vector;
import java.util.concurrent.atomic.AtomicBoolean;

import site.ycsb.ByteIterator;
import site.ycsb.DB;
import site.ycsb.DBException;
import site.ycsb.Status;

/**
 * A YCSB DB that stores nothing: it writes each operation YCSB issues as one line of a text trace
 * (format: benchmarks/ycsb/README.md, "Trace format"), so the C harness replays exactly YCSB's
 * operation stream. Properties: {@code trace.file} (output), {@code trace.workload} (a..f) and
 * {@code trace.phase} (load|run) for the header. The file is written to {@code trace.file.tmp} and
 * renamed in {@link #cleanup()}, so a failed run never leaves a truncated trace under the real name.
 * One instance only (-threads 1): the order of the lines is the order YCSB issued the operations.
 */
public class TraceDB extends DB {
  private static final AtomicBoolean OPEN = new AtomicBoolean();

  private BufferedWriter out;
  private Path tmp;
  private Path target;
  private IOException failure;
  /** Key of the read that began the current read-modify-write, or null. */
  private String rmwKey;

  @Override
  public void init() throws DBException {
    if (!OPEN.compareAndSet(false, true)) {
      throw new DBException("TraceDB: run YCSB with -threads 1 (one trace, one writer)");
    }
    Properties p = getProperties();
    String file = required(p, "trace.file");
    String workload = required(p, "trace.workload");
    String phase = required(p, "trace.phase");
    if (!phase.equals("load") && !phase.equals("run")) {
      throw new DBException("TraceDB: trace.phase must be load or run, not " + phase);
    }
    target = Path.of(file);
    tmp = Path.of(file + ".tmp");
    try {
      out = new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(tmp), StandardCharsets.US_ASCII),
          1 << 16);
      out.write("# ycsb-trace v1 workload=" + workload + " phase=" + phase
          + " recordcount=" + required(p, "recordcount")
          + " operationcount=" + required(p, "operationcount")
          + " fieldcount=" + required(p, "fieldcount")
          + " fieldlength=" + required(p, "fieldlength") + "\n");
    } catch (IOException e) {
      throw new DBException("TraceDB: cannot write " + tmp + ": " + e.getMessage(), e);
    }
  }

  private static String required(Properties p, String name) throws DBException {
    String v = p.getProperty(name);
    if (v == null || v.isEmpty()) {
      throw new DBException("TraceDB: property " + name + " is not set");
    }
    return v;
  }

  private Status line(String s) {
    if (failure != null) {
      return Status.ERROR;
    }
    try {
      out.write(s);
      out.write('\n');
      return Status.OK;
    } catch (IOException e) {
      failure = e;
      return Status.ERROR;
    }
  }

  @Override
  public Status read(String table, String key, Set<String> fields, Map<String, ByteIterator> result) {
    if (TraceWorkload.IN_RMW.get()) {
      rmwKey = key; // the M line is written with the update that follows
      return Status.OK;
    }
    return line("R " + key);
  }

  @Override
  public Status update(String table, String key, Map<String, ByteIterator> values) {
    if (rmwKey != null) {
      String k = rmwKey;
      rmwKey = null;
      if (!k.equals(key)) {
        failure = new IOException("TraceDB: read-modify-write read " + k + " but updated " + key);
        return Status.ERROR;
      }
      return line("M " + key + " " + values.size());
    }
    return line("U " + key + " " + values.size());
  }

  @Override
  public Status insert(String table, String key, Map<String, ByteIterator> values) {
    return line("I " + key);
  }

  @Override
  public Status scan(String table, String startkey, int recordcount, Set<String> fields,
                     Vector<HashMap<String, ByteIterator>> result) {
    return line("S " + startkey + " " + recordcount);
  }

  @Override
  public Status delete(String table, String key) {
    // No standard workload deletes, and the trace format has no delete line.
    return Status.NOT_IMPLEMENTED;
  }

  @Override
  public void cleanup() throws DBException {
    try {
      if (rmwKey != null && failure == null) {
        failure = new IOException("TraceDB: read-modify-write of " + rmwKey + " had no update");
      }
      out.close();
      if (failure != null) {
        throw failure;
      }
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new DBException("TraceDB: trace " + target + " not written: " + e.getMessage(), e);
    } finally {
      OPEN.set(false);
    }
  }
}
