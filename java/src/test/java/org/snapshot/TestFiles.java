// TestFiles — scratch directories for the tests: disk (under the build dir) and /dev/shm (emulated PM).
package org.snapshot;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

public final class TestFiles {
    private TestFiles() {}

    private static final Path SHM_ROOT =
            Path.of("/dev/shm/snapshot-java-test-" + ProcessHandle.current().pid());
    private static final Path DISK_ROOT =
            Path.of(System.getProperty("snapshot.test.dir", "build/java/test-tmp"));

    static {
        // /dev/shm is memory: leave nothing there. The disk files go too (sparse, but large).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                delete(SHM_ROOT);
                delete(DISK_ROOT);
            } catch (IOException e) {
                System.err.println("TestFiles: cleaning up: " + e);
            }
        }));
    }

    /** A fresh directory on disk (the build directory's file system). */
    public static Path diskDir(String name) {
        return fresh(DISK_ROOT, name);
    }

    /** A fresh directory on /dev/shm, for emulated persistent memory. */
    public static Path shmDir(String name) {
        return fresh(SHM_ROOT, name);
    }

    private static Path fresh(Path root, String name) {
        try {
            Path d = root.resolve(name);
            delete(d);
            Files.createDirectories(d);
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static void delete(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    static Path log(Path data) {
        return data.resolveSibling(data.getFileName() + ".snaplog");
    }

    static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
