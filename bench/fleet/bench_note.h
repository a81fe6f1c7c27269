/* The fleet note a C benchmark carries in place of the compiler's: namesz 5,
 * descsz 92, type, "Truk", then the version-1 descriptor (capacity 64, the
 * region's size as little-endian bytes r0 r1 r2, fingerprints filled with the
 * bytes fa and fb, three empty strings). */
#include "truk_note.h"
#define BENCH_FP8(b) b, b, b, b, b, b, b, b
#define BENCH_FP32(b) BENCH_FP8(b), BENCH_FP8(b), BENCH_FP8(b), BENCH_FP8(b)
#define BENCH_NOTE(r0, r1, r2, fa, fb)                                                                  \
    __attribute__((section(".note.truk"), aligned(4), used, retain))                                  \
    static const unsigned char bench_note[12 + 8 + 92] = {                                            \
        5, 0, 0, 0, 92, 0, 0, 0, 0x31, 0x4b, 0x52, 0x54, 'T', 'r', 'u', 'k', 0, 0, 0, 0,              \
        1, 0, 0, 0, 64, 0, 0, 0, r0, r1, r2, 0, 0, 0, 0, 0, BENCH_FP32(fa), BENCH_FP32(fb),            \
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};                                                          \
    _Static_assert(TRUK_NOTE_TYPE == 0x54524b31, "note type bytes above")
