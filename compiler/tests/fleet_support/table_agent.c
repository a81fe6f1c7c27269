/* A table member for the dead-replacer tests: a table[u64, u64, 8] at the start of
 * the shared area. `stall-replace K V` claims K's slot for a replace exactly as
 * table.c does (a CAS of its FULL word to BUSY), writes half of the new copy and
 * dies (SIGKILL): a member killed at that instruction, holding no lock. The
 * others use the table through the runtime. */
#define _GNU_SOURCE
#include "truk_fleet.h"
#include "truk_rt.h"
#include "fleet_note.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAP 8

static unsigned char *t;

static uint64_t *slot(uint64_t i) { return (uint64_t *)(t + TRUK_TABLE_HEADER_SIZE + i * truk_table_stride(8, 8)); }

int32_t __truk_main(int32_t argc, char **argv) {
    t = __truk_fleet_join(NULL);
    const char *mode = argc > 1 ? argv[1] : "";
    uint64_t k = argc > 2 ? strtoull(argv[2], NULL, 10) : 0, v = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    if (!strcmp(mode, "hold")) {
        pause();
        return 0;
    }
    if (!strcmp(mode, "stall-replace") && argc > 3) {
        uint64_t e = __atomic_load_n(&((struct truk_table_header *)t)->epoch, __ATOMIC_SEQ_CST) & TRUK_TABLE_EPOCH_MASK;
        for (uint64_t i = 0; i < CAP; i++) {
            uint64_t *s = slot(i), w = __atomic_load_n(s, __ATOMIC_SEQ_CST), cur = w >> 2 & 1;
            if ((w & 3) != TRUK_TABLE_FULL || w >> 34 != e || s[1] != k)
                continue;
            uint64_t busy = TRUK_TABLE_BUSY | cur << 2 | 1u << 3 | (uint64_t)__truk_fleet_mover() << 4 | e << 34;
            if (!__atomic_compare_exchange_n(s, &w, busy, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                return 3;
            memcpy((unsigned char *)&s[2 + !cur], &v, 4); /* half of the new copy */
            raise(SIGKILL);
        }
        return 4; /* not there */
    }
    if (!strcmp(mode, "put") && argc > 3) {
        printf("put %d\n", __truk_table_put(t, CAP, 8, 8, &k, &v));
        return 0;
    }
    if (!strcmp(mode, "get") && argc > 2) {
        bool found = __truk_table_get(t, CAP, 8, 8, &k, &v);
        printf("get %d %llu\n", found, (unsigned long long)v);
        return 0;
    }
    if (!strcmp(mode, "clear")) {
        __truk_table_clear(t, CAP, 8, 8);
        printf("clear\n");
        return 0;
    }
    if (!strcmp(mode, "fill")) { /* CAP new keys from k on */
        int n = 0;
        for (uint64_t i = 0; i < CAP; i++) {
            uint64_t key = k + i;
            n += __truk_table_put(t, CAP, 8, 8, &key, &key);
        }
        printf("fill %d %llu\n", n, (unsigned long long)__truk_table_len(t, CAP, 8, 8));
        return 0;
    }
    return 2;
}
