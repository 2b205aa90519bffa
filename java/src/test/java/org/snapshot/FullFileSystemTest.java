// FullFileSystemTest — a full file system is an exception from msync(), never a dead JVM (issue 12).
package org.snapshot;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Runs {@link FullFsChild} on a 4 MiB tmpfs and an 8 MiB ext4 (loop mount), for both back ends,
 * for a created and an adopted sparse data file, each in a child JVM: it must print "ok" and exit
 * 0. Before issue 12 was fixed, the child died of SIGBUS inside SnapshotNative.snap_msync (the
 * apply's store into a hole of the data file), or its putLong into a hole of the tmpfs-backed copy
 * threw java.lang.InternalError. Mounting needs root (CI runs as root); otherwise the test is
 * skipped, saying so.
 */
class FullFileSystemTest {
    static boolean root() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:")) {
                return line.split("\\s+")[2].equals("0"); // real, effective, ...: the effective one
            }
        }
        return false;
    }

    static int sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        int rc = p.waitFor();
        if (rc != 0) {
            System.err.println(String.join(" ", cmd) + ": exit " + rc + ": " + out.strip());
        }
        return rc;
    }

    /** Run the child; "" if it passed, else what went wrong. */
    static String child(Path top, Path dir, Backend backend, String kind) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-XX:TieredStopAtLevel=1");
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-XX:-UsePerfData");
        cmd.add("-Xmx128m");
        cmd.add("-XX:ErrorFile=" + top.resolve("hs_err_%p.log"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        String raw = System.getProperty("org.snapshot.raw");
        if (raw != null) {
            cmd.add("-Dorg.snapshot.raw=" + raw);
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(FullFsChild.class.getName());
        cmd.add(dir.toString());
        cmd.add(backend.name());
        cmd.add(kind);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("PMEM_IS_PMEM_FORCE", "1");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "timed out: " + out;
        }
        int rc = p.exitValue();
        System.out.print(out.lines().map(l -> "  " + l + "\n").reduce("", String::concat));
        if (rc == 0 && out.lines().anyMatch(l -> l.startsWith("ok"))) {
            return "";
        }
        String crash = "";
        try (var s = Files.list(top)) {
            for (Path f : s.filter(q -> q.getFileName().toString().startsWith("hs_err")).toList()) {
                crash += "\n" + Files.readAllLines(f).stream().limit(12).reduce("", (a, b) -> a + b + "\n");
                Files.delete(f);
            }
        }
        return "exit " + rc + (rc > 128 ? " (signal " + (rc - 128) + ")" : "") + ":\n" + out + crash;
    }

    @Test
    void fullFileSystemIsAnException() throws Exception {
        if (!root()) {
            String why = "not root: mounting a scratch file system needs root";
            System.out.println("FullFileSystemTest: skipped: " + why);
            Assumptions.abort(why);
        }
        Path top = TestFiles.diskDir("full-fs").toAbsolutePath();
        List<String> failures = new ArrayList<>();
        for (String fs : List.of("tmpfs", "ext4")) {
            for (Backend backend : List.of(Backend.FILE, Backend.EMULATED_PMEM)) {
                for (String kind : List.of("created", "adopted")) {
                    Path dir = top.resolve("mnt");
                    Path img = top.resolve("fs.img");
                    Files.createDirectories(dir);
                    int mounted = fs.equals("tmpfs")
                            ? sh("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir.toString())
                            : sh("sh", "-c", "truncate -s 8M '" + img + "' && mkfs.ext4 -q -F -m 0 '"
                                    + img + "' >/dev/null && mount -o loop '" + img + "' '" + dir + "'");
                    assertEquals(0, mounted, "mounting " + fs + " at " + dir);
                    String what = fs + " " + backend + " " + kind;
                    System.out.println(what + ":");
                    try {
                        String err = child(top, dir, backend, kind);
                        if (!err.isEmpty()) {
                            failures.add(what + ": " + err);
                        }
                    } finally {
                        if (sh("umount", dir.toString()) != 0) {
                            sh("umount", "-l", dir.toString());
                        }
                        Files.deleteIfExists(img);
                    }
                }
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
        TestFiles.delete(top);
    }
}
