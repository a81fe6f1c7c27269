/* truk_note.h: the Truk fingerprint note, as written by the compiler
 * (compiler-core/src/fingerprint.rs, compiler/src/codegen/note.rs) and read by the runtime.
 *
 * Kept in sync with the Rust constants by the test
 * fingerprint::tests::c_header_matches_rust_constants (it parses the #define lines below:
 * keep them as `#define NAME VALUE` on one line each).
 *
 * Where it lives
 *   ELF:    a note in section ".note.truk" (SHT_NOTE, SHF_ALLOC, align 4). Linkers put it in
 *           a PT_NOTE segment, so at run time it is found with dl_iterate_phdr: walk the
 *           PT_NOTE segments of the main program (dlpi_addr + p_vaddr, p_memsz) and pick the
 *           note whose name is "Truk" (namesz 5) and whose type is TRUK_NOTE_TYPE.
 *   Mach-O: section "__TEXT,__truk_fp" holding the same complete note record
 *           (getsectiondata(&_mh_execute_header, "__TEXT", "__truk_fp", &size)).
 *
 * The record (the usual ELF note; header words in the target's byte order):
 *   uint32 namesz = 5; uint32 descsz; uint32 type = TRUK_NOTE_TYPE;
 *   "Truk\0" + 3 bytes of padding (to 4); descriptor (descsz bytes) + padding to 4.
 *
 * The descriptor, format TRUK_NOTE_VERSION, always little-endian:
 *   off  0  uint32   version           (== TRUK_NOTE_VERSION; reject anything else)
 *   off  4  uint32   fleet_capacity    (attach table slots)
 *   off  8  uint64   region_size       (bytes of the shared variables' area, see the region spec)
 *   off 16  uint8[32] build_fp         (SHA-256, see fleet.md "build fingerprint")
 *   off 48  uint8[32] layout_fp        (SHA-256, see fleet.md "layout fingerprint")
 *   off 80  strings: target, profile, compiler_version; each uint32 length + UTF-8 bytes
 *           (no NUL, no padding between them). descsz == 80 + 12 + the three lengths.
 *
 * The descriptor is only 4-byte aligned inside the note: read region_size with memcpy (or
 * truk_note_read_fixed below), never through a uint64_t pointer.
 */
#ifndef TRUK_NOTE_H
#define TRUK_NOTE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TRUK_NOTE_NAME "Truk"
#define TRUK_NOTE_NAMESZ 5
#define TRUK_NOTE_TYPE 0x54524b31
#define TRUK_NOTE_SECTION_ELF ".note.truk"
#define TRUK_NOTE_SEGMENT_MACHO "__TEXT"
#define TRUK_NOTE_SECTION_MACHO "__truk_fp"

#define TRUK_NOTE_VERSION 1
#define TRUK_FP_SIZE 32
#define TRUK_NOTE_OFF_VERSION 0
#define TRUK_NOTE_OFF_FLEET_CAPACITY 4
#define TRUK_NOTE_OFF_REGION_SIZE 8
#define TRUK_NOTE_OFF_BUILD_FP 16
#define TRUK_NOTE_OFF_LAYOUT_FP 48
#define TRUK_NOTE_OFF_STRINGS 80
#define TRUK_NOTE_FIXED_SIZE 80

/* Layout fingerprint of a build without shared variables (the same on every target). */
#define TRUK_LAYOUT_FP_EMPTY_HEX "02d5a6f705a597a9fbfceaa589283869afa6265c4861c5d73497932eea102138"

/* The fixed-size part of the descriptor, in host representation. */
struct truk_note_fixed {
    uint32_t version;
    uint32_t fleet_capacity;
    uint64_t region_size;
    uint8_t build_fp[TRUK_FP_SIZE];
    uint8_t layout_fp[TRUK_FP_SIZE];
};

_Static_assert(offsetof(struct truk_note_fixed, version) == TRUK_NOTE_OFF_VERSION, "version");
_Static_assert(offsetof(struct truk_note_fixed, fleet_capacity) == TRUK_NOTE_OFF_FLEET_CAPACITY, "fleet_capacity");
_Static_assert(offsetof(struct truk_note_fixed, region_size) == TRUK_NOTE_OFF_REGION_SIZE, "region_size");
_Static_assert(offsetof(struct truk_note_fixed, build_fp) == TRUK_NOTE_OFF_BUILD_FP, "build_fp");
_Static_assert(offsetof(struct truk_note_fixed, layout_fp) == TRUK_NOTE_OFF_LAYOUT_FP, "layout_fp");
_Static_assert(sizeof(struct truk_note_fixed) == TRUK_NOTE_FIXED_SIZE, "fixed size");

static inline uint32_t truk_note_le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t truk_note_le64(const unsigned char *p) {
    return (uint64_t)truk_note_le32(p) | ((uint64_t)truk_note_le32(p + 4) << 32);
}

/* Reads the fixed part of a descriptor (desc, descsz as found in the note).
 * Returns 0 on success, -1 when the descriptor is too short or of another version. */
static inline int truk_note_read_fixed(const void *desc, size_t descsz, struct truk_note_fixed *out) {
    const unsigned char *d = (const unsigned char *)desc;
    if (descsz < TRUK_NOTE_FIXED_SIZE) return -1;
    out->version = truk_note_le32(d + TRUK_NOTE_OFF_VERSION);
    if (out->version != TRUK_NOTE_VERSION) return -1;
    out->fleet_capacity = truk_note_le32(d + TRUK_NOTE_OFF_FLEET_CAPACITY);
    out->region_size = truk_note_le64(d + TRUK_NOTE_OFF_REGION_SIZE);
    memcpy(out->build_fp, d + TRUK_NOTE_OFF_BUILD_FP, TRUK_FP_SIZE);
    memcpy(out->layout_fp, d + TRUK_NOTE_OFF_LAYOUT_FP, TRUK_FP_SIZE);
    return 0;
}

#endif /* TRUK_NOTE_H */
