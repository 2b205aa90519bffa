// Workload — a deterministic sequence of epochs of writes, applied to a region or to a model array.
package org.snapshot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * Epoch k (k >= 1) of campaign {@code seed} is a few random operations — putBytes, putLong, putInt,
 * fill, copy, a ByteBuffer put — over bytes [8, size), then the epoch number stored as a long at
 * offset 0. The same epoch applied to a byte array gives the state a crash test expects.
 */
final class Workload {
    private Workload() {}

    interface Target {
        void putBytes(long off, byte[] b);

        void putLong(long off, long v);

        void putInt(long off, int v);

        void fill(long off, long len, byte v);

        void copy(long src, long dst, long len);
    }

    static Target of(RegionMemory r) {
        return new Target() {
            public void putBytes(long off, byte[] b) {
                if ((off & 1) == 0) {
                    r.putBytes(off, b);
                } else {
                    r.putBytes(off, ByteBuffer.wrap(b));
                }
            }

            public void putLong(long off, long v) {
                r.putLong(off, v);
            }

            public void putInt(long off, int v) {
                r.putInt(off, v);
            }

            public void fill(long off, long len, byte v) {
                r.fill(off, len, v);
            }

            public void copy(long src, long dst, long len) {
                r.copy(src, dst, len);
            }
        };
    }

    static Target of(byte[] a) {
        ByteBuffer b = ByteBuffer.wrap(a).order(ByteOrder.LITTLE_ENDIAN);
        return new Target() {
            public void putBytes(long off, byte[] src) {
                System.arraycopy(src, 0, a, (int) off, src.length);
            }

            public void putLong(long off, long v) {
                b.putLong((int) off, v);
            }

            public void putInt(long off, int v) {
                b.putInt((int) off, v);
            }

            public void fill(long off, long len, byte v) {
                java.util.Arrays.fill(a, (int) off, (int) (off + len), v);
            }

            public void copy(long src, long dst, long len) {
                System.arraycopy(a, (int) src, a, (int) dst, (int) len);
            }
        };
    }

    static void epoch(long seed, long k, long size, Target t) {
        SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + k);
        int ops = 1 + rnd.nextInt(12);
        long room = size - 8;
        for (int i = 0; i < ops; i++) {
            int len = 1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 8192 : 300);
            long off = 8 + rnd.nextLong(room - len);
            switch (rnd.nextInt(5)) {
                case 0: {
                    byte[] b = new byte[len];
                    rnd.nextBytes(b);
                    t.putBytes(off, b);
                    break;
                }
                case 1:
                    t.putLong(8 + rnd.nextLong(room - 8), rnd.nextLong());
                    break;
                case 2:
                    t.putInt(8 + rnd.nextLong(room - 4), rnd.nextInt());
                    break;
                case 3:
                    t.fill(off, len, (byte) rnd.nextInt());
                    break;
                default:
                    t.copy(off, 8 + rnd.nextLong(room - len), len);
                    break;
            }
        }
        t.putLong(0, k);
    }

    /** The expected content after epochs 1..k from a zero-filled region. */
    static byte[] model(long seed, long k, int size) {
        byte[] a = new byte[size];
        for (long j = 1; j <= k; j++) {
            epoch(seed, j, size, of(a));
        }
        return a;
    }
}
