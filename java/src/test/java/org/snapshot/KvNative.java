// KvNative — the fixture of NativePluginTest: builds java/src/test/native/kvnative.c with and without the
// clang plugin, loads it through JNA, and models what an epoch of Java + native writes leaves behind.
package org.snapshot;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * The region (64 KiB) is shared: Java owns [0, 8192) — the epoch at 0 and a few random longs and
 * ints per epoch — and kvnative.c owns [8192, 65536), written by {@code kv_epoch(base, seed,
 * epoch)}. The model of epoch E is epochs 1..E applied to a zeroed heap buffer: the Java writes by
 * {@link #javaEpoch}, the native ones by the same {@code kv_epoch} on that buffer (outside the
 * arena, where the plugin's hooks do nothing), as the plugin's own end-to-end tests mirror their
 * structures on the heap.
 *
 * <p>The library is compiled by {@link #build} with clang-19, once per JVM, into
 * {@code build/java/test-native}: {@code libkvnative.so} with
 * {@code -fpass-plugin=build/java-native/llvm-pass/libsnapshot-pass.so} (the plugin the Maven
 * build's CMake run builds beside libsnapshot) and {@code libkvnative-plain.so} without it. Both
 * are linked against the very file {@link PersistentRegion#nativeLibrary()} names, with no
 * RUNPATH: their DT_NEEDED {@code libsnapshot.so.0} is resolved, by soname, to the copy the binding
 * already loaded (and could not be found otherwise), so the hooks read the arena of Java's regions.
 */
final class KvNative {
    private KvNative() {}

    static final int SIZE = 65536;
    static final int NATIVE_OFF = 8192;

    /** The exported functions of kvnative.c. */
    public interface Lib extends Library {
        void kv_epoch(Pointer base, long seed, long epoch);

        void kv_layout(long[] out);
    }

    /** Where Java's writes go: the region or the model. */
    interface JavaSide {
        void putLong(long off, long v);

        void putInt(long off, int v);
    }

    static JavaSide of(RegionMemory r) {
        return new JavaSide() {
            public void putLong(long off, long v) {
                r.putLong(off, v);
            }

            public void putInt(long off, int v) {
                r.putInt(off, v);
            }
        };
    }

    static JavaSide of(Memory m) {
        return new JavaSide() { // Memory uses the native (little-endian) order, like the region
            public void putLong(long off, long v) {
                m.setLong(off, v);
            }

            public void putInt(long off, int v) {
                m.setInt(off, v);
            }
        };
    }

    /** Java's data of epoch e: three longs and an int in [8, 8192), derived from (seed, e). */
    static void javaData(JavaSide t, long seed, long e) {
        SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + e);
        for (int i = 0; i < 3; i++) {
            t.putLong(8 + 8L * rnd.nextInt(NATIVE_OFF / 8 - 1), rnd.nextLong());
        }
        t.putInt(8 + 4L * rnd.nextInt(NATIVE_OFF / 4 - 2), rnd.nextInt());
    }

    /**
     * One whole epoch, in the order the child runs it: Java's data, the native function on
     * {@code base} (the region's address or the model's), then Java's epoch counter at 0.
     */
    static void epoch(Lib lib, JavaSide java, Pointer base, long seed, long e) {
        javaData(java, seed, e);
        lib.kv_epoch(base, seed, e);
        java.putLong(0, e);
    }

    /** The expected bytes of epochs 1..E, extended epoch by epoch. */
    static final class Model {
        private final Lib lib;
        private final long seed;
        private final Memory mem = new Memory(SIZE);
        private long epoch;

        Model(Lib lib, long seed) {
            this.lib = lib;
            this.seed = seed;
            mem.clear();
        }

        byte[] at(long e) {
            if (e < epoch) {
                mem.clear();
                epoch = 0;
            }
            for (; epoch < e; epoch++) {
                KvNative.epoch(lib, of(mem), mem, seed, epoch + 1);
            }
            return mem.getByteArray(0, SIZE);
        }
    }

    /**
     * Null if {@code got} equals {@code model}; else which side differs, where, and how many
     * lines — the Java side [0, 8192) and the native side are reported separately.
     */
    static String mismatch(byte[] model, byte[] got) {
        List<String> parts = new ArrayList<>();
        for (int side = 0; side < 2; side++) {
            int from = side == 0 ? 0 : NATIVE_OFF, to = side == 0 ? NATIVE_OFF : SIZE;
            int first = Arrays.mismatch(model, from, to, got, from, to);
            if (first < 0) {
                continue;
            }
            TreeSet<Integer> lines = new TreeSet<>();
            int zeroInGot = 0, zeroInModel = 0;
            for (int i = from; i < to; i++) {
                if (model[i] != got[i]) {
                    lines.add(i >>> 6);
                }
            }
            for (int line : lines) {
                boolean gz = true, mz = true;
                for (int i = line << 6; i < (line + 1) << 6; i++) {
                    gz &= got[i] == 0;
                    mz &= model[i] == 0;
                }
                zeroInGot += gz ? 1 : 0;
                zeroInModel += mz ? 1 : 0;
            }
            parts.add((side == 0 ? "Java" : "native") + " side differs from byte " + (from + first)
                    + ": " + lines.size() + " lines (" + zeroInGot + " of them all zero in the "
                    + "region, " + zeroInModel + " all zero in the model)");
        }
        return parts.isEmpty() ? null : String.join("; ", parts);
    }

    /** Lines of the native side that the model of some epoch made non-zero: it did write. */
    static int nonZeroNativeLines(byte[] model) {
        int n = 0;
        for (int line = NATIVE_OFF >>> 6; line < SIZE >>> 6; line++) {
            for (int i = line << 6; i < (line + 1) << 6; i++) {
                if (model[i] != 0) {
                    n++;
                    break;
                }
            }
        }
        return n;
    }

    // ---- Independent checks (not through the model): kvnative.c's hash, in Java ----

    static long mix(long x) {
        x += 0x9E3779B97F4A7C15L;
        x = (x ^ (x >>> 30)) * 0xBF58476D1CE4E5B9L;
        x = (x ^ (x >>> 27)) * 0x94D049BB133111EBL;
        return x ^ (x >>> 31);
    }

    static long h(long seed, long epoch, long what) {
        return mix(seed ^ mix(epoch ^ mix(what)));
    }

    // ---- Building and loading ----

    /** The two builds of kvnative.c. */
    record Build(Path instrumented, Path plain, String passStats) {}

    private static Build built;

    /** Compile both variants (once per JVM); fails with the reason if the plugin or clang is missing. */
    static synchronized Build build() {
        if (built != null) {
            return built;
        }
        Path root = sourceRoot();
        Path nativeBuild = Path.of(System.getProperty("snapshot.native.build.dir",
                root.resolve("build/java-native").toString()));
        Path plugin = nativeBuild.resolve("llvm-pass/libsnapshot-pass.so");
        if (!Files.isRegularFile(plugin)) {
            throw new AssertionError("NativePluginTest needs the clang plugin " + plugin
                    + ", which the Maven build's CMake run (scripts/build " + nativeBuild
                    + ") builds with SNAPSHOT_PASS=ON, the default: run `mvn verify` without "
                    + "-DskipNative once, or `scripts/build " + nativeBuild
                    + " -DSNAPSHOT_TESTS=OFF -DSNAPSHOT_BENCHMARKS=OFF`");
        }
        Path src = root.resolve("java/src/test/native/kvnative.c");
        // The binding's own libsnapshot.so.0 (extracted from the jar): link against that file.
        Path libsnapshot = Path.of(PersistentRegion.nativeLibrary());
        Path out = Path.of(System.getProperty("snapshot.test.dir", "build/java/test-tmp"))
                .toAbsolutePath().resolveSibling("test-native");
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String pass = "-fpass-plugin=" + plugin;
        // -fplugin too, so that -mllvm -snapshot-stats reaches the plugin's options.
        String stats = compile(src, libsnapshot, out.resolve("libkvnative.so"),
                "-fplugin=" + plugin, pass, "-mllvm", "-snapshot-stats");
        compile(src, libsnapshot, out.resolve("libkvnative-plain.so"));
        built = new Build(out.resolve("libkvnative.so"), out.resolve("libkvnative-plain.so"),
                stats.strip());
        return built;
    }

    /** clang-19 -O2 -shared, to a temporary name then renamed; returns the compiler's stderr. */
    private static String compile(Path src, Path libsnapshot, Path dst, String... extra) {
        Path tmp = dst.resolveSibling(dst.getFileName() + "." + ProcessHandle.current().pid());
        List<String> cmd = new ArrayList<>(List.of("clang-19", "-O2", "-g", "-std=c11", "-Wall",
                "-Wextra", "-Werror", "-fPIC", "-shared", "-fvisibility=hidden"));
        cmd.addAll(List.of(extra));
        cmd.addAll(List.of(src.toString(), libsnapshot.toString(), "-o", tmp.toString()));
        String output = run(cmd);
        try {
            Files.move(tmp, dst, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return output;
    }

    /** Run a command; its combined output, or an AssertionError with it on failure. */
    static String run(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes());
            int rc = p.waitFor();
            if (rc != 0) {
                throw new AssertionError(String.join(" ", cmd) + " failed (" + rc + "):\n" + output);
            }
            return output;
        } catch (IOException e) {
            throw new AssertionError("cannot run " + cmd.get(0) + " (clang-19 and binutils are "
                    + "needed to build the test library): " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The repository: Maven's basedir, else the first ancestor of the working directory with llvm-pass/. */
    private static Path sourceRoot() {
        String base = System.getProperty("snapshot.source.dir", System.getProperty("basedir"));
        if (base != null && Files.isDirectory(Path.of(base, "llvm-pass"))) {
            return Path.of(base).toAbsolutePath();
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("llvm-pass/SnapshotPass.cmake"))
                    && Files.isDirectory(d.resolve("java/src/test/native"))) {
                return d;
            }
        }
        throw new AssertionError("cannot find the source tree (llvm-pass/, java/src/test/native/) "
                + "from " + Path.of("").toAbsolutePath() + "; set -Dsnapshot.source.dir");
    }

    /**
     * Load a build of the library, after the binding (whose libsnapshot.so.0 its DT_NEEDED entry
     * must resolve to): the caller has opened a region already or we load the binding here.
     */
    static Lib load(Path lib) {
        PersistentRegion.nativeLibrary(); // loads the binding and its libsnapshot first
        return Native.load(lib.toString(), Lib.class);
    }

    /** The distinct libsnapshot files mapped into this process (/proc/self/maps). */
    static TreeSet<String> mappedLibsnapshots() {
        TreeSet<String> files = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                int slash = line.indexOf('/');
                if (slash >= 0 && line.substring(slash).matches(".*/libsnapshot\\.so[.0-9]*")) {
                    files.add(line.substring(slash));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return files;
    }

    /** Undefined dynamic symbols of a shared library starting with snap_ (nm -D). */
    static TreeSet<String> undefinedSnapSymbols(Path lib) {
        TreeSet<String> syms = new TreeSet<>();
        for (String line : run(List.of("nm", "-D", "--undefined-only", lib.toString())).split("\n")) {
            String[] f = line.trim().split("\\s+");
            String name = f[f.length - 1];
            if (name.startsWith("snap_")) {
                syms.add(name);
            }
        }
        return syms;
    }
}
