/* expect.h — the replayer's model of what the store must hold: which keys are present and, per
 * field, how many times it was written (its version). Values are generated from (key, field,
 * version), so a read is checked byte for byte against what the replayer wrote, and a record met by
 * a scan (whose key the model does not look up) is checked for self-consistency: each field carries
 * its version in its first 4 bytes and the rest must be that version's bytes for that key.
 *
 * Field bytes: version (u32, little endian), then 64-bit words seed + j * 0x9e3779b97f4a7c15 with
 * seed mixed from the key's hash, the field index and the version; fieldlength >= 8.
 */
#ifndef SNAPSHOT_YCSB_EXPECT_H
#define SNAPSHOT_YCSB_EXPECT_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct expect {
    const struct keyset *ks;
    uint32_t fieldcount, fieldlength;
    size_t vsize;
    uint64_t *keyhash;  /* kv_hash of each key, by id */
    uint8_t *present;   /* by id */
    uint32_t *version;  /* [id * fieldcount + field] */
    uint64_t count;     /* keys present */
    uint32_t next_field; /* where update's field choice rotates from */
};

/* Returns 0, or -1 if fieldlength < 8 or out of memory. */
int expect_init(struct expect *e, const struct keyset *ks, uint32_t fieldcount, uint32_t fieldlength);
void expect_free(struct expect *e);

/* Insert: bump every field's version, mark present, write the new value to dst (vsize bytes). */
void expect_insert(struct expect *e, uint32_t id, void *dst);
void expect_delete(struct expect *e, uint32_t id);

/* Update of k fields: choose them (YCSB picks at random; the trace does not say which, so they rotate
 * through the record), bump their versions, write their new bytes to data (k * fieldlength) and their
 * indices to fields (k entries; k <= fieldcount). */
void expect_update(struct expect *e, uint32_t id, uint32_t k, uint32_t *fields, void *data);

/* 0 if value is key id's current value, else 1 + the first field that differs. */
uint32_t expect_check(struct expect *e, uint32_t id, const void *value);

/* 0 if every field of value is a well-formed field of this key (any version), else 1 + the first
 * field that is not. */
uint32_t expect_check_self(struct expect *e, const char *key, size_t klen, const void *value);

#endif
