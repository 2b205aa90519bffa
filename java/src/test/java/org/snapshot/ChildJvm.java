// ChildJvm — starts CrashChild (or another test main class) in a fresh JVM with this test's class path.
package org.snapshot;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public final class ChildJvm {
    private ChildJvm() {}

    /** Start CrashChild; its stdout goes to {@code out} if not null, else to a pipe. */
    static Process start(Map<String, String> env, Path out, String... args) throws IOException {
        return start(CrashChild.class, env, out, args);
    }

    /** Start the main class {@code main}; stdout as for {@link #start(Map, Path, String...)}. */
    public static Process start(Class<?> main, Map<String, String> env, Path out, String... args)
            throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // Start fast: the child lives for a fraction of a second.
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-XX:-UsePerfData");
        cmd.add("-Xmx128m");
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        if (out != null) {
            pb.redirectOutput(out.toFile());
        }
        return pb.start();
    }

    /** Run to completion; returns stdout, fails on a non-zero exit. */
    static String run(Map<String, String> env, String... args) throws Exception {
        Process p = start(env, null, args);
        String out = new String(p.getInputStream().readAllBytes());
        int rc = p.waitFor();
        if (rc != 0) {
            throw new AssertionError("child exited with " + rc + ": " + out);
        }
        return out;
    }
}
