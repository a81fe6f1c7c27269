/* fleet.c: joining the fleet's shared region, the Mutex, futex waits and
 * spawn. The protocol and the region layout are documented in truk_fleet.h;
 * read it first. Only programs that call one of these functions link any of
 * this (gc-sections): start.c reaches the leave code through a pointer that
 * __truk_fleet_join sets.
 *
 * Shared memory is accessed with the __atomic builtins on plain fields (the
 * layout structs have plain types so that C and Rust agree byte for byte). */
#define _GNU_SOURCE
#include "truk_fleet.h"
#include "truk_note.h"
#include "truk_rt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- process identity -------------------------------------------------- */

enum proc_state { PROC_ALIVE, PROC_DEAD, PROC_UNKNOWN };

/* Appends the decimal digits of v at p; returns the end. No stdio: this runs
 * in signal handlers and in the child of fork too (see leave). */
static char *put_uint(char *p, uint32_t v) {
    char digits[10];
    int n = 0;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

static char *put_str(char *p, const char *s) {
    while (*s)
        *p++ = *s++;
    return p;
}

/* "/proc/<pid>/task/<pid>/stat" into buf (64 bytes). */
static void stat_path(char *buf, uint32_t pid) {
    char *p = put_str(put_uint(put_str(put_uint(put_str(buf, "/proc/"), pid), "/task/"), pid), "/stat");
    *p = 0;
}

/* Reads the stat file of `pid`'s main thread: dead when absent, zombie or
 * dead; *start gets field 22 (start time in clock ticks since boot). UNKNOWN
 * when it cannot be read for another reason (e.g. hidepid): callers then
 * assume the process lives. Async-signal-safe.
 * The path is /proc/<pid>/task/<pid>/stat, for ourselves as for others:
 * qemu-user fakes /proc/self/stat and /proc/<own pid>/stat for the program it
 * emulates (another start time than the one other processes read there), so a
 * member under qemu would record a start time that everyone else takes for pid
 * reuse. qemu does not intercept the task path, and the main thread's start
 * time is the process's, so natively both paths agree. */
static enum proc_state proc_stat(uint32_t pid, uint64_t *start) {
    char path[64], buf[1024];
    if (pid == 0 || pid > TRUK_MUTEX_TID_MASK)
        return PROC_DEAD;
    stat_path(path, pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return (errno == ENOENT || errno == ESRCH) ? PROC_DEAD : PROC_UNKNOWN;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return n == 0 || errno == ESRCH ? PROC_DEAD : PROC_UNKNOWN;
    buf[n] = 0;
    /* comm (field 2) is in parentheses and may hold anything: skip to the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return PROC_UNKNOWN;
    p += 2; /* field 3, the state */
    if (*p == 'Z' || *p == 'X' || *p == 'x')
        return PROC_DEAD;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return PROC_UNKNOWN;
        p++;
    }
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    *start = v;
    return PROC_ALIVE;
}

/* Our own pid and start time, read once; a forked child reads its own again
 * (fleet_fork_child). */
static uint32_t self_pid_v;
static uint64_t self_start_v;

static void self_ident(void) {
    if (self_pid_v)
        return;
    uint32_t pid = (uint32_t)getpid();
    uint64_t start = 0;
    if (proc_stat(pid, &start) != PROC_ALIVE)
        start = 0; /* no /proc: liveness checks degrade to "alive" */
    self_start_v = start;
    self_pid_v = pid;
}

static uint32_t self_pid(void) {
    self_ident();
    return self_pid_v;
}

/* Is the process `pid` that started at `start` dead? check_start false: only
 * pid existence and zombie state are checked. */
static bool proc_dead(uint32_t pid, uint64_t start, bool check_start) {
    uint64_t now = 0;
    enum proc_state s = proc_stat(pid, &now);
    if (s == PROC_DEAD)
        return true;
    return s == PROC_ALIVE && check_start && now != start;
}

/* ---- errors ------------------------------------------------------------ */

/* Every failure to join: one line, status 70. exit() runs the exit hook,
 * which has nothing to undo yet (the leave pointer is set only once joined). */
static _Noreturn void fleet_fail(const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fputs("fleet: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    exit(TRUK_FLEET_EXIT_STATUS);
}

/* ---- the note ---------------------------------------------------------- */

static int note_cb(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_name && info->dlpi_name[0])
        return 0; /* the main program comes first and has an empty name */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        size_t align = ph->p_align > 4 ? 8 : 4;
        while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
            ElfW(Nhdr) n;
            memcpy(&n, p, sizeof n);
            const unsigned char *name = p + sizeof n;
            size_t name_len = (n.n_namesz + align - 1) & ~(align - 1);
            size_t desc_len = (n.n_descsz + align - 1) & ~(align - 1);
            if (name_len > (size_t)(end - name) || desc_len > (size_t)(end - name) - name_len)
                break;
            const unsigned char *desc = name + name_len;
            if (n.n_namesz == TRUK_NOTE_NAMESZ && n.n_type == TRUK_NOTE_TYPE &&
                memcmp(name, TRUK_NOTE_NAME, TRUK_NOTE_NAMESZ) == 0)
                return truk_note_read_fixed(desc, n.n_descsz, data) == 0 ? 1 : -1;
            p = desc + desc_len;
        }
    }
    return -1; /* the main program has no usable note: stop */
}

/* ---- the region -------------------------------------------------------- */

static struct {
    bool joined;
    bool first;
    int fd;
    uint32_t self;        /* our slot */
    uint64_t self_word;   /* our slot's word, for the CAS that frees it */
    unsigned char *base;  /* the whole file, mapped */
    size_t size;
    struct truk_fleet_header *hdr;
    struct truk_fleet_slot *table;
    struct truk_note_fixed note;
    uint64_t shared_offset, program_offset, desc_size, file_size;
    char path[PATH_MAX];
} fl = {.fd = -1};

/* The description of the shared variables, emitted by the compiler beside the
 * join (C members built without it describe nothing). */
extern const unsigned char __truk_fleet_desc[] __attribute__((weak));
extern const uint64_t __truk_fleet_desc_size __attribute__((weak));

/* This process as a mover (__truk_fleet_mover), set whenever fl.joined, fl.self
 * or fl.self_word change: a table put reads it without a call. */
uint32_t __truk_fleet_me;

/* Channel leases ("Channels" in truk_fleet.h): this member's in_op word, NULL
 * while it may not hold a lease (not joined, or no expedited membarrier), and
 * the region's mapping, where channels may be leased. */
uint64_t *__truk_fleet_inop;
unsigned char *__truk_fleet_lo, *__truk_fleet_hi;
static bool membarrier_ok, membarrier_registered;

/* Whether the kernel has the expedited global membarrier (asked at join and
 * after fork: all members of a fleet run on one kernel). */
static void membarrier_query(void) {
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    membarrier_ok = cmds > 0 && (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
                    (cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
    membarrier_registered = false; /* the registration belongs to the address space */
}

/* Registers this process for MEMBARRIER_CMD_GLOBAL_EXPEDITED, which skips the
 * CPUs of unregistered processes: done before the first lease it takes, so
 * that members which never hold one are never interrupted. */
bool __truk_fleet_membarrier_register(void) {
    if (!membarrier_registered)
        membarrier_registered = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
    return membarrier_registered;
}

static void me_update(void) {
    uint32_t count = (uint32_t)((fl.self_word & TRUK_SLOT_COUNT_MASK) >> 2);
    __truk_fleet_me = fl.joined ? ((fl.self + 1) | count << TRUK_CHAN_MOVER_SLOT_BITS) & TRUK_CHAN_MOVER_MASK : 0;
    __truk_fleet_inop = fl.joined && membarrier_ok ? &fl.table[fl.self].in_op : NULL;
    __truk_fleet_lo = fl.joined ? fl.base : NULL;
    __truk_fleet_hi = fl.joined ? fl.base + fl.size : NULL;
}

static uint64_t load64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static uint32_t load32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static bool cas64(uint64_t *p, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

/* The exit log (truk_fleet.h, "Exit log"). */
static struct truk_fleet_exitlog *exitlog_hdr(void) {
    return (struct truk_fleet_exitlog *)(fl.base + truk_fleet_exitlog_offset(fl.note.fleet_capacity));
}

/* Appends the exit of the member whose ACTIVE slot `slot` (word w, start time
 * `start`) this process has just freed. Async-signal-safe. */
static void exitlog_append(uint32_t slot, uint64_t w, uint64_t start) {
    struct truk_fleet_exitlog *l = exitlog_hdr();
    struct truk_fleet_exit *recs = (struct truk_fleet_exit *)(l + 1);
    uint64_t seq = __atomic_fetch_add(&l->head, 1, __ATOMIC_SEQ_CST);
    struct truk_fleet_exit *r = &recs[seq % truk_fleet_exitlog_len(fl.note.fleet_capacity)];
    __atomic_store_n(&r->stamp, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&r->pid, (uint32_t)(w >> TRUK_SLOT_PID_SHIFT), __ATOMIC_RELAXED);
    __atomic_store_n(&r->slot, slot, __ATOMIC_RELAXED);
    __atomic_store_n(&r->start_time, start, __ATOMIC_RELAXED);
    __atomic_store_n(&r->stamp, seq + 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&l->wake, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &l->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Frees slot s (word w seen): CAS to FREE; the winner of an ACTIVE slot
 * appends its exit record. False: someone else changed it first. */
static bool slot_free(struct truk_fleet_slot *s, uint64_t w) {
    uint64_t start = __atomic_load_n(&s->start_time, __ATOMIC_RELAXED);
    if (!cas64(&s->word, w, w & ~(uint64_t)TRUK_SLOT_STATUS_MASK))
        return false;
    if ((w & TRUK_SLOT_STATUS_MASK) == TRUK_SLOT_ACTIVE)
        exitlog_append((uint32_t)(s - fl.table), w, start);
    return true;
}

static bool slot_dead(struct truk_fleet_slot *s, uint64_t w) {
    uint32_t pid = (uint32_t)(w >> TRUK_SLOT_PID_SHIFT);
    if ((w & TRUK_SLOT_STATUS_MASK) == TRUK_SLOT_CLAIMED)
        return proc_dead(pid, 0, false); /* no start time yet */
    /* The acquire load of w made the start_time stored before ACTIVE visible;
     * if the slot has been recycled since, the CAS on w fails anyway. */
    return proc_dead(pid, __atomic_load_n(&s->start_time, __ATOMIC_RELAXED), true);
}

/* Frees the slots of dead members; returns the number of live ones. */
static uint32_t table_sweep(void) {
    uint32_t live = 0;
    for (uint32_t i = 0; i < fl.note.fleet_capacity; i++) {
        struct truk_fleet_slot *s = &fl.table[i];
        uint64_t w = load64(&s->word);
        if ((w & TRUK_SLOT_STATUS_MASK) == TRUK_SLOT_FREE)
            continue;
        if (!(fl.joined && i == fl.self) && slot_dead(s, w)) {
            slot_free(s, w); /* a lost race: someone else freed it */
            continue;
        }
        live++;
    }
    return live;
}

/* Claims a free slot for `pid`: CAS FREE -> CLAIMED(pid), then `start`, then
 * `status` (ACTIVE; CLAIMED for a fork reservation) with a release store.
 * Reaps the dead and tries again once when the table looks full. */
static bool slot_claim(uint32_t pid, uint64_t start, uint64_t status, uint32_t *index,
                       uint64_t *word) {
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < fl.note.fleet_capacity; i++) {
            struct truk_fleet_slot *s = &fl.table[i];
            uint64_t w = load64(&s->word);
            if ((w & TRUK_SLOT_STATUS_MASK) != TRUK_SLOT_FREE)
                continue;
            uint64_t count = ((w & TRUK_SLOT_COUNT_MASK) + TRUK_SLOT_COUNT_ONE) & TRUK_SLOT_COUNT_MASK;
            uint64_t claimed = ((uint64_t)pid << TRUK_SLOT_PID_SHIFT) | count | TRUK_SLOT_CLAIMED;
            if (!cas64(&s->word, w, claimed))
                continue;
            __atomic_store_n(&s->start_time, start, __ATOMIC_RELAXED);
            __atomic_store_n(&s->in_op, 0, __ATOMIC_RELAXED); /* a dead occupant's */
            uint64_t done = (claimed & ~(uint64_t)TRUK_SLOT_STATUS_MASK) | status;
            __atomic_store_n(&s->word, done, __ATOMIC_RELEASE);
            *index = i;
            *word = done;
            return true;
        }
        if (pass == 0)
            table_sweep();
    }
    return false;
}

/* Claims a slot for this process. */
static bool table_register(void) {
    self_ident();
    return slot_claim(self_pid_v, self_start_v, TRUK_SLOT_ACTIVE, &fl.self, &fl.self_word);
}

static void table_deregister(void) {
    slot_free(&fl.table[fl.self], fl.self_word);
}

/* Checks an existing file's header against this build, before anything in it
 * is trusted or written. Returns NULL when it is ours, else the reason. */
static const char *header_problem(const struct truk_fleet_header *h, off_t st_size) {
    static char why[160];
    const struct truk_note_fixed *n = &fl.note;
    if (memcmp(h->magic, TRUK_FLEET_MAGIC, TRUK_FLEET_MAGIC_SIZE) != 0)
        return "not a Truk fleet region (bad magic)";
    if (h->protocol != TRUK_FLEET_PROTOCOL) {
        snprintf(why, sizeof why, "region protocol %" PRIu32 ", this runtime speaks %d",
                 h->protocol, TRUK_FLEET_PROTOCOL);
        return why;
    }
    if (h->header_size != TRUK_FLEET_HEADER_SIZE || h->slot_size != TRUK_FLEET_SLOT_SIZE ||
        h->table_offset != TRUK_FLEET_HEADER_SIZE)
        return "damaged header (sizes)";
    if (memcmp(h->build_fp, n->build_fp, TRUK_FP_SIZE) != 0)
        return "made by another build (build fingerprint differs)";
    if (memcmp(h->layout_fp, n->layout_fp, TRUK_FP_SIZE) != 0)
        return "shared variables laid out differently (layout fingerprint differs)";
    if (h->capacity != n->fleet_capacity || h->region_size != n->region_size ||
        h->shared_offset != fl.shared_offset || h->file_size != fl.file_size ||
        h->program_offset != fl.program_offset || h->program_size != TRUK_FLEET_PROGRAM_SIZE ||
        h->desc_offset != fl.program_offset + TRUK_FLEET_PROGRAM_SIZE ||
        h->desc_size != fl.desc_size) {
        snprintf(why, sizeof why,
                 "damaged header (capacity %" PRIu32 ", region size %" PRIu64 "; expected %" PRIu32
                 ", %" PRIu64 ")",
                 h->capacity, h->region_size, n->fleet_capacity, n->region_size);
        return why;
    }
    if ((uint64_t)st_size != fl.file_size) {
        snprintf(why, sizeof why, "file is %lld bytes, the header says %" PRIu64,
                 (long long)st_size, fl.file_size);
        return why;
    }
    return NULL;
}

static void region_map(int fd) {
    void *p = mmap(NULL, fl.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        fleet_fail("cannot map %s: %s", fl.path, strerror(errno));
    fl.base = p;
    fl.hdr = p;
    fl.table = (struct truk_fleet_slot *)(fl.base + TRUK_FLEET_HEADER_SIZE);
}

static void region_drop(int fd) {
    if (fl.base)
        munmap(fl.base, fl.size);
    fl.base = NULL;
    fl.hdr = NULL;
    fl.table = NULL;
    close(fd); /* drops our flock */
}

/* Starts a generation in a region we hold exclusively (new, or abandoned):
 * everything zero, the initializers, generation + 1, ourselves registered,
 * then READY. A re-initializer that dies half-way leaves state INIT, which
 * makes the next newcomer start over. */
static void generation_start(void (*init)(void *)) {
    struct truk_fleet_header *h = fl.hdr;
    __atomic_store_n(&h->state, TRUK_FLEET_STATE_INIT, __ATOMIC_SEQ_CST);
    memset(fl.table, 0, fl.shared_offset - TRUK_FLEET_HEADER_SIZE);
    memset(fl.base + fl.shared_offset, 0, fl.note.region_size);
    if (init)
        init(fl.base + fl.shared_offset);
    __atomic_store_n(&h->generation, load64(&h->generation) + 1, __ATOMIC_RELAXED);
    h->creator_pid = self_pid();
    h->generation_time = (uint64_t)time(NULL);
    /* What `truk fleet inspect` shows: who started it, and the description. */
    char *prog = (char *)fl.base + fl.program_offset;
    memset(prog, 0, TRUK_FLEET_PROGRAM_SIZE);
    ssize_t n = readlink("/proc/self/exe", prog, TRUK_FLEET_PROGRAM_SIZE - 1);
    if (n < 0)
        prog[0] = 0;
    if (fl.desc_size)
        memcpy(fl.base + fl.program_offset + TRUK_FLEET_PROGRAM_SIZE, __truk_fleet_desc, fl.desc_size);
    if (!table_register())
        fleet_fail("%s: no free slot in a fresh attach table", fl.path); /* capacity 0 */
    fl.first = true;
    __atomic_store_n(&h->state, TRUK_FLEET_STATE_READY, __ATOMIC_RELEASE);
}

enum attempt { JOINED, RETRY, ABSENT };

/* Refuses a file under the region's name that others could reach: not a
 * regular file, not ours, group/other permission bits, or a second name (a
 * hard link planted elsewhere would let its owner read and write the fleet).
 * nlink 0 (a leaver unlinked it) is not refused: the caller starts over. */
static void file_check(const struct stat *st) {
    if (!S_ISREG(st->st_mode))
        fleet_fail("%s is not a regular file; refusing to use it", fl.path);
    if (st->st_uid != geteuid())
        fleet_fail("%s belongs to uid %u, not to us; refusing to use it", fl.path,
                   (unsigned)st->st_uid);
    if (st->st_mode & 077)
        fleet_fail("%s has mode %04o: other users could read or write the fleet's memory; "
                   "refusing to use it (left untouched)",
                   fl.path, (unsigned)(st->st_mode & 07777));
    if (st->st_nlink > 1)
        fleet_fail("%s has %llu links: another name reaches the fleet's memory; refusing to "
                   "use it (left untouched)",
                   fl.path, (unsigned long long)st->st_nlink);
}

static bool still_linked(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        fleet_fail("cannot stat %s: %s", fl.path, strerror(errno));
    return st.st_nlink > 0;
}

static void lock_shared(int fd) {
    while (flock(fd, LOCK_SH) != 0)
        if (errno != EINTR)
            fleet_fail("cannot lock %s: %s", fl.path, strerror(errno));
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Builds a complete region in an unnamed file and publishes it with linkat. */
static enum attempt region_create(void (*init)(void *)) {
    int fd = open(TRUK_FLEET_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        fleet_fail("cannot create a region in %s: %s", TRUK_FLEET_DIR, strerror(errno));
    if (fchmod(fd, 0600) != 0 || flock(fd, LOCK_SH) != 0)
        fleet_fail("cannot prepare a region in %s: %s", TRUK_FLEET_DIR, strerror(errno));
    /* Reserve every page now: a full /dev/shm is an error here, not a SIGBUS later. */
    int err = posix_fallocate(fd, 0, (off_t)fl.file_size);
    if (err)
        fleet_fail("cannot reserve %" PRIu64 " bytes in %s for the region: %s", fl.file_size,
                   TRUK_FLEET_DIR, strerror(err));
    region_map(fd);
    struct truk_fleet_header *h = fl.hdr;
    memcpy(h->magic, TRUK_FLEET_MAGIC, TRUK_FLEET_MAGIC_SIZE);
    h->protocol = TRUK_FLEET_PROTOCOL;
    h->header_size = TRUK_FLEET_HEADER_SIZE;
    memcpy(h->build_fp, fl.note.build_fp, TRUK_FP_SIZE);
    memcpy(h->layout_fp, fl.note.layout_fp, TRUK_FP_SIZE);
    h->region_size = fl.note.region_size;
    h->file_size = fl.file_size;
    h->table_offset = TRUK_FLEET_HEADER_SIZE;
    h->shared_offset = fl.shared_offset;
    h->capacity = fl.note.fleet_capacity;
    h->slot_size = TRUK_FLEET_SLOT_SIZE;
    h->program_offset = fl.program_offset;
    h->program_size = TRUK_FLEET_PROGRAM_SIZE;
    h->desc_offset = fl.program_offset + TRUK_FLEET_PROGRAM_SIZE;
    h->desc_size = fl.desc_size;
    generation_start(init);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* everything above before the name appears */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, fl.path, AT_SYMLINK_FOLLOW) == 0) {
        fl.fd = fd;
        return JOINED;
    }
    int e = errno;
    region_drop(fd);
    fl.first = false;
    if (e == EEXIST)
        return RETRY; /* another creator won: attach to theirs */
    fleet_fail("cannot publish the region %s: %s", fl.path, strerror(e));
}

/* Attaches to the file under the region's name (see truk_fleet.h, join). */
static enum attempt region_attach(void (*init)(void *)) {
    int fd = open(fl.path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0) {
        if (errno == ENOENT)
            return ABSENT;
        fleet_fail("cannot open %s: %s", fl.path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        fleet_fail("cannot stat %s: %s", fl.path, strerror(errno));
    file_check(&st);
    bool excl = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (excl)
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    else if (errno == EWOULDBLOCK)
        lock_shared(fd); /* waits out a leaver or a re-initializer */
    else
        fleet_fail("cannot lock %s: %s", fl.path, strerror(errno));
    if (fstat(fd, &st) != 0)
        fleet_fail("cannot stat %s: %s", fl.path, strerror(errno));
    if (st.st_nlink == 0) { /* a leaver removed it meanwhile */
        close(fd);
        return RETRY;
    }
    file_check(&st); /* again: a link or chmod while we waited for the lock */
    /* Validate from a copy read with pread: nothing is mapped writable before. */
    struct truk_fleet_header h;
    if (st.st_size < (off_t)sizeof h || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
        fleet_fail("%s: too small to be a Truk fleet region; refusing to use it (left untouched)",
                   fl.path);
    const char *why = header_problem(&h, st.st_size);
    if (why)
        fleet_fail("%s: %s; refusing to use it (left untouched)", fl.path, why);
    region_map(fd);
    /* The description is checked like the header: a region whose copy differs from
     * this binary's was damaged (the layout fingerprint already matched). */
    if (fl.desc_size &&
        memcmp(fl.base + fl.program_offset + TRUK_FLEET_PROGRAM_SIZE, __truk_fleet_desc, fl.desc_size) != 0)
        fleet_fail("%s: damaged region (the description of the shared variables differs from "
                   "this binary's); refusing to use it (left untouched)",
                   fl.path);
    bool ready = load32(&fl.hdr->state) == TRUK_FLEET_STATE_READY;
    if (excl) {
        /* No member holds the lock. A live slot means one is between its
         * exclusive and shared lock (see truk_fleet.h): join that generation. */
        if (ready && table_sweep() > 0) {
            if (!table_register())
                fleet_fail("%s: the attach table is full (%" PRIu32 " members)", fl.path,
                           fl.note.fleet_capacity);
        } else {
            generation_start(init);
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        lock_shared(fd); /* converts EX to SH */
    } else {
        if (!ready) { /* a re-initializer died half-way: start over */
            region_drop(fd);
            return RETRY;
        }
        if (!table_register())
            fleet_fail("%s: the attach table is full (%" PRIu32 " members)", fl.path,
                       fl.note.fleet_capacity);
    }
    fl.fd = fd;
    if (!still_linked(fd)) { /* belt and braces, see truk_fleet.h join step 3 */
        table_deregister();
        region_drop(fd);
        fl.fd = -1;
        fl.first = false;
        return RETRY;
    }
    return JOINED;
}

/* Liveness reads /proc/<pid>: that /proc must be our PID namespace's. In a
 * namespace made without its own /proc (`unshare --pid --fork`), /proc/self
 * names our pid in the outer namespace and every pid we look up there is
 * someone else: refuse rather than judge the wrong processes. */
static void proc_check(void) {
    char self[32];
    ssize_t n = readlink("/proc/self", self, sizeof self - 1);
    long pid = -1;
    if (n > 0) {
        self[n] = 0;
        char *end;
        pid = strtol(self, &end, 10);
        if (*end)
            pid = -1;
    }
    if (pid != (long)getpid())
        fleet_fail("/proc is not this PID namespace's own (/proc/self is %s, getpid() is %ld): "
                   "members' liveness cannot be checked here; give the namespace its own /proc "
                   "(e.g. unshare --pid --fork --mount-proc)",
                   n > 0 ? self : "unreadable", (long)getpid());
}

static void region_name(void) {
    const char *ns = getenv(TRUK_FLEET_NS_ENV);
    if (!ns || !*ns)
        ns = TRUK_FLEET_NS_DEFAULT;
    size_t len = strlen(ns);
    bool ok = len <= TRUK_FLEET_NS_MAX && ns[0] != '.';
    for (size_t i = 0; ok && i < len; i++) {
        char c = ns[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == '-';
    }
    if (!ok)
        fleet_fail("%s must be 1 to %d characters of A-Z a-z 0-9 _ . - (not starting with '.')",
                   TRUK_FLEET_NS_ENV, TRUK_FLEET_NS_MAX);
    struct stat st;
    if (stat("/proc/self/ns/pid", &st) != 0)
        fleet_fail("cannot read /proc/self/ns/pid (is /proc mounted?): %s", strerror(errno));
    proc_check();
    char fp[33];
    for (int i = 0; i < 16; i++)
        snprintf(fp + 2 * i, 3, "%02x", fl.note.build_fp[i]);
    snprintf(fl.path, sizeof fl.path, "%s/%s%u-%llu-%s-%s", TRUK_FLEET_DIR, TRUK_FLEET_PREFIX,
             (unsigned)geteuid(), (unsigned long long)st.st_ino, fp, ns);
}

static void mutex_abandon_region(void); /* in the Mutex section below */

static const int leave_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void signals_block(sigset_t *old) {
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof leave_signals / sizeof *leave_signals; i++)
        sigaddset(&set, leave_signals[i]);
    sigprocmask(SIG_BLOCK, &set, old);
}

/* A slot this process reserved for a forked child that has not taken it over
 * yet (see truk_fleet.h, "fork"). */
static bool fork_pending(void) {
    for (uint32_t i = 0; i < fl.note.fleet_capacity; i++) {
        uint64_t w = load64(&fl.table[i].word);
        if (i != fl.self && (w & TRUK_SLOT_STATUS_MASK) == TRUK_SLOT_CLAIMED &&
            (uint32_t)(w >> TRUK_SLOT_PID_SHIFT) == self_pid_v)
            return true;
    }
    return false;
}

/* Leaves the fleet: the exit hook and, with `dying`, the signal handler.
 * Async-signal-safe (no stdio, no malloc, no fleet_fail, which would exit()
 * inside the exit hook). The leave signals are blocked meanwhile, so their
 * handler never leaves a second time half-way. A dying process keeps the
 * region mapped: it ends a moment later, and the kernel's processing of its
 * death may still need the mapping. */
static void leave(bool dying) {
    sigset_t old;
    signals_block(&old);
    if (__atomic_load_n(&fl.joined, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&fl.joined, false, __ATOMIC_RELAXED);
        me_update();
        /* A child not yet in its slot relies on the lock we share with it:
         * converting that lock could drop it (truk_fleet.h, "fork"). */
        bool keep_lock = fork_pending();
        /* Before the region is unmapped; not from a signal handler, where
         * walking glibc's robust list is unsafe: the kernel does it at our
         * death a moment later, the region still mapped. */
        if (!dying)
            mutex_abandon_region();
        table_deregister();
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        /* Converting SH to EX|NB drops our lock first: success means nobody else
         * holds one, and no live slot means nobody is between locks either. */
        struct stat st;
        if (!keep_lock && flock(fl.fd, LOCK_EX | LOCK_NB) == 0 && fstat(fl.fd, &st) == 0 &&
            st.st_nlink > 0 && table_sweep() == 0)
            unlink(fl.path);
        if (dying)
            close(fl.fd);
        else
            region_drop(fl.fd);
        fl.fd = -1;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* The exit hook (start.c calls it through __truk_rt_fleet_exit_hook). */
static void fleet_leave(void) { leave(false); }

/* SIGINT, SIGTERM, SIGHUP when the program left them at SIG_DFL: leave, then
 * die of the same signal (the status a shell sees is unchanged). */
static void fleet_on_signal(int sig) {
    int saved = errno;
    leave(true);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig); /* pending: `sig` is blocked while its handler runs */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL); /* delivered here: the default action */
    errno = saved;
}

/* Installs fleet_on_signal for the leave signals still at SIG_DFL (SIG_IGN,
 * e.g. under nohup, and the program's own handlers stay; a handler the
 * program installs later replaces ours). */
static void signals_install(void) {
    for (size_t i = 0; i < sizeof leave_signals / sizeof *leave_signals; i++) {
        struct sigaction old;
        if (sigaction(leave_signals[i], NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
            old.sa_handler != SIG_DFL)
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = fleet_on_signal;
        sigemptyset(&sa.sa_mask);
        for (size_t j = 0; j < sizeof leave_signals / sizeof *leave_signals; j++)
            sigaddset(&sa.sa_mask, leave_signals[j]);
        sa.sa_flags = SA_RESTART;
        sigaction(leave_signals[i], &sa, NULL);
    }
}

/* ---- fork (protocol: truk_fleet.h, "fork") ------------------------------- */

static struct {
    bool reserved;  /* prepare claimed `slot` for the child */
    uint32_t slot;
    uint64_t word;  /* the reservation's word: CLAIMED, our pid */
    sigset_t mask;  /* the signal mask to restore after fork */
} fk;

/* A child that cannot become a member: one line, status 70, as at join. */
static _Noreturn void fork_fail(const char *line) {
    ssize_t ignored = write(2, line, strlen(line));
    (void)ignored;
    _exit(TRUK_FLEET_EXIT_STATUS);
}

/* Before fork: reserve a slot for the child under our own pid (alive while we
 * are), with the leave signals blocked until fork has returned. */
static void fleet_fork_prepare(void) {
    signals_block(&fk.mask);
    fk.reserved = false;
    if (fl.joined) {
        self_ident();
        fk.reserved = slot_claim(self_pid_v, self_start_v, TRUK_SLOT_CLAIMED, &fk.slot, &fk.word);
    }
}

static void fleet_fork_parent(void) { sigprocmask(SIG_SETMASK, &fk.mask, NULL); }

/* In the child: our own identity, the reserved slot (or a new one when a
 * reaper freed it), our own open file description, mapped, and LOCK_SH on it;
 * the inherited descriptor and mapping are dropped, never unlocked (the lock
 * is the parent's). */
static void fleet_fork_child(void) {
    if (fl.joined) {
        self_pid_v = 0;
        self_ident();
        uint64_t mine = ((uint64_t)self_pid_v << TRUK_SLOT_PID_SHIFT) |
                        (fk.word & TRUK_SLOT_COUNT_MASK) | TRUK_SLOT_CLAIMED;
        if (fk.reserved && cas64(&fl.table[fk.slot].word, fk.word, mine)) {
            __atomic_store_n(&fl.table[fk.slot].start_time, self_start_v, __ATOMIC_RELAXED);
            __atomic_store_n(&fl.table[fk.slot].in_op, 0, __ATOMIC_RELAXED);
            fl.self = fk.slot;
            fl.self_word = (mine & ~(uint64_t)TRUK_SLOT_STATUS_MASK) | TRUK_SLOT_ACTIVE;
            __atomic_store_n(&fl.table[fk.slot].word, fl.self_word, __ATOMIC_RELEASE);
        } else if (!table_register()) {
            fork_fail("fleet: the child of fork finds the attach table full\n");
        }
        membarrier_query();
        me_update();
        fl.first = false;
        char path[64];
        *put_uint(put_str(path, "/proc/self/fd/"), (uint32_t)fl.fd) = 0;
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            fork_fail("fleet: the child of fork cannot open its own descriptor of the region\n");
        /* The inherited mapping holds the parent's description (and its lock)
         * too: map ours over it, at the same address. */
        if (mmap(fl.base, fl.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) !=
            fl.base)
            fork_fail("fleet: the child of fork cannot map the region again\n");
        close(fl.fd);
        while (flock(fd, LOCK_SH) != 0)
            if (errno != EINTR)
                fork_fail("fleet: the child of fork cannot lock the region\n");
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        fl.fd = fd;
        __truk_watch_start(); /* the child reports the exits from its own start */
    }
    sigprocmask(SIG_SETMASK, &fk.mask, NULL);
}

/* Reads the note and computes the region's name and sizes. */
static void fleet_locate(void) {
    if (dl_iterate_phdr(note_cb, &fl.note) != 1)
        fleet_fail("this binary carries no valid Truk fingerprint note");
    if (fl.note.fleet_capacity == 0 || fl.note.fleet_capacity > (1u << 24))
        fleet_fail("the binary's note asks for %" PRIu32 " attach slots (1 to %u allowed)",
                   fl.note.fleet_capacity, 1u << 24);
    fl.shared_offset = truk_fleet_shared_offset(fl.note.fleet_capacity);
    if (fl.note.region_size > (uint64_t)INT64_MAX - fl.shared_offset ||
        fl.shared_offset + fl.note.region_size > SIZE_MAX)
        fleet_fail("the binary's note asks for an impossible region size %" PRIu64,
                   fl.note.region_size);
    fl.desc_size = (__truk_fleet_desc && &__truk_fleet_desc_size) ? __truk_fleet_desc_size : 0;
    if (fl.desc_size > TRUK_FLEET_DESC_MAX)
        fleet_fail("the binary's description of its shared variables is too large");
    fl.program_offset = truk_fleet_program_offset(fl.note.fleet_capacity, fl.note.region_size);
    fl.file_size = fl.program_offset + TRUK_FLEET_PROGRAM_SIZE + fl.desc_size;
    if (fl.file_size > (uint64_t)INT64_MAX || fl.file_size > SIZE_MAX)
        fleet_fail("the binary's note asks for an impossible region size %" PRIu64,
                   fl.note.region_size);
    fl.size = (size_t)fl.file_size;
    region_name();
}

void *__truk_fleet_join(void (*init)(void *shared_base)) {
    if (fl.joined)
        return fl.base + fl.shared_offset;
    __truk_linked_start(); /* a spawn_linked child: tie its life to its parent's first */
    if (!fl.path[0])
        fleet_locate(); /* once per process: joining again after leaving reuses it */
    fl.first = false;
    for (int attempt = 0;; attempt++) {
        if (attempt == 10000)
            fleet_fail("cannot join %s: it keeps changing under us", fl.path);
        enum attempt a = region_attach(init);
        if (a == ABSENT)
            a = region_create(init);
        if (a == JOINED)
            break;
    }
    __atomic_store_n(&fl.joined, true, __ATOMIC_RELEASE);
    membarrier_query();
    me_update();
    __truk_rt_fleet_exit_hook = fleet_leave;
    static bool hooked;
    if (!hooked && pthread_atfork(fleet_fork_prepare, fleet_fork_parent, fleet_fork_child) == 0)
        hooked = true;
    signals_install();
    __truk_watch_start(); /* fleet_wait_exit reports the exits from here on */
    return fl.base + fl.shared_offset;
}

/* For supervise.c: the attach table and its size (NULL before joining). */
struct truk_fleet_slot *__truk_fleet_slots(uint32_t *capacity) {
    *capacity = fl.note.fleet_capacity;
    return fl.joined ? fl.table : NULL;
}

/* For supervise.c: whether the member in slot s, whose word was w, is dead;
 * frees the slot when it is (a lost race: someone else freed it). */
bool __truk_fleet_slot_reap(struct truk_fleet_slot *s, uint64_t w) {
    if (!slot_dead(s, w))
        return false;
    slot_free(s, w);
    return true;
}

/* For supervise.c: the exit log and its length in records (NULL before joining). */
struct truk_fleet_exitlog *__truk_fleet_exitlog(uint64_t *len) {
    *len = truk_fleet_exitlog_len(fl.note.fleet_capacity);
    return fl.joined ? exitlog_hdr() : NULL;
}

static void require_joined(const char *what) {
    if (!fl.joined)
        __truk_panic_cstr(what);
}

uint32_t __truk_fleet_self(void) {
    require_joined("fleet_self: this process has not joined its fleet");
    return fl.self;
}

uint32_t __truk_fleet_size(void) {
    require_joined("fleet_size: this process has not joined its fleet");
    return table_sweep();
}

bool __truk_fleet_first(void) {
    require_joined("fleet_first: this process has not joined its fleet");
    return fl.first;
}

uint64_t __truk_fleet_generation(void) {
    require_joined("fleet_generation: this process has not joined its fleet");
    return load64(&fl.hdr->generation);
}

/* ---- futexes ----------------------------------------------------------- */

/* Non-private operations: the word may be mapped at different addresses in
 * different processes; the kernel keys shared futexes by the page. */
static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts) {
    return syscall(SYS_futex, uaddr, op, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* Sleeps while *p == expected until the absolute CLOCK_MONOTONIC `deadline`
 * (NULL: none). 0 woken or value differs, ETIMEDOUT. EINTR is retried. */
static int futex_wait_until(uint32_t *p, uint32_t expected, const struct timespec *deadline) {
    for (;;) {
        if (futex(p, FUTEX_WAIT_BITSET, expected, deadline) == 0)
            return 0;
        if (errno == ETIMEDOUT)
            return ETIMEDOUT;
        if (errno != EINTR)
            return 0; /* EAGAIN: the value already differs */
        if (__atomic_load_n(p, __ATOMIC_ACQUIRE) != expected)
            return 0;
    }
}

static struct timespec deadline_in(int64_t ms) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return truk_ms_after(t, ms);
}

bool __truk_wait_on(uint32_t *p, uint32_t expected, int64_t timeout_ms) {
    if (timeout_ms < 0)
        return futex_wait_until(p, expected, NULL) == 0;
    if (timeout_ms > INT64_MAX / 2)
        timeout_ms = INT64_MAX / 2;
    struct timespec d = deadline_in(timeout_ms);
    return futex_wait_until(p, expected, &d) == 0;
}

uint32_t __truk_wake(uint32_t *p, uint32_t count) {
    if (count == 0)
        return 0; /* FUTEX_WAKE with 0 would still wake one */
    long n = futex(p, FUTEX_WAKE, count > INT_MAX ? INT_MAX : count, NULL);
    return n < 0 ? 0 : (uint32_t)n;
}

/* ---- Mutex (layout and protocol: struct truk_mutex_layout in truk_fleet.h) --
 * word: 0 free, else holder tid | WAITERS, or OWNER_DIED (| WAITERS) once the
 * kernel saw the holder die. Lock: one CAS 0 -> tid when free. Contended:
 * spin up to MUTEX_SPIN pauses for it to be free (CAS 0 -> tid), then set
 * WAITERS and sleep on the word; a kernel wake-up after the holder's death
 * finds OWNER_DIED, a time-out checks the holder's liveness; either way the
 * waiter takes the lock over by CAS on the exact word seen (one winner).
 * Unlock: clear owner, leave the robust list, swap the word to 0 (release),
 * wake one sleeper if WAITERS was set. Acquiring CASes are acquire, the
 * unlocking swap is release: the data the Mutex guards is ordered as with
 * any lock. */

#define MUTEX_POLL_ENV "TRUK_MUTEX_POLL"
#define MUTEX_POLL_MAX_MS 64
#define MUTEX_SPIN 128 /* pauses before a contended lock sleeps */

/* Who this thread is, for the Mutex: read on first use, forgotten in a fork
 * child (another tid, and glibc empties the child's robust list). */
struct mutex_self {
    uint32_t tid;                   /* 0: not read yet */
    uint64_t owner;                 /* start time low 32 bits << 32 | tid */
    struct robust_list_head *head;  /* glibc's list for this thread, NULL: poll */
};
static _Thread_local struct mutex_self mself __attribute__((tls_model("initial-exec")));

static void mutex_self_forget(void) { memset(&mself, 0, sizeof mself); }

/* This thread's robust list head, when its layout is the one our Mutex fits
 * (glibc's, see truk_fleet.h); NULL otherwise (qemu-user: ENOSYS). */
static struct robust_list_head *robust_head(void) {
    const char *poll = getenv(MUTEX_POLL_ENV);
    if (poll && *poll && strcmp(poll, "0") != 0)
        return NULL;
    struct robust_list_head *h = NULL;
    size_t len = 0;
    if (syscall(SYS_get_robust_list, 0, &h, &len) != 0 || !h || len != sizeof *h)
        return NULL;
    long want = (long)offsetof(struct truk_mutex_layout, word) -
                (long)offsetof(struct truk_mutex_layout, next);
    return h->futex_offset == want ? h : NULL;
}

static struct mutex_self *mutex_self(void) {
    if (__builtin_expect(mself.tid != 0, 1))
        return &mself;
    static int atfork_set;
    if (!__atomic_exchange_n(&atfork_set, 1, __ATOMIC_RELAXED))
        pthread_atfork(NULL, NULL, mutex_self_forget);
    uint32_t tid = (uint32_t)syscall(SYS_gettid);
    uint64_t start = 0;
    if (proc_stat(tid, &start) != PROC_ALIVE)
        start = 0; /* no /proc: liveness checks degrade to "alive" */
    mself.owner = ((start & 0xffffffffu) << 32) | tid;
    mself.head = robust_head();
    mself.tid = tid;
    return &mself;
}

/* The robust list to put `m` on, or NULL: only a Mutex in the fleet's region
 * (other processes cannot see one elsewhere, and a local one may vanish while
 * held, which would leave a dangling entry in glibc's list). */
static struct robust_list_head *mutex_list(struct mutex_self *s, struct truk_mutex_layout *m) {
    if (!s->head || !fl.base || (uintptr_t)m - (uintptr_t)fl.base >= fl.size)
        return NULL;
    return s->head;
}

#define BARRIER() __asm__ volatile("" ::: "memory") /* the kernel reads the list at our death */

/* The prev link of the list entry whose next link is at `next` (glibc's layout). */
static uint64_t *link_prev(uint64_t next) { return (uint64_t *)((next & ~(uint64_t)1) - 8); }

static void list_pending(struct robust_list_head *h, struct truk_mutex_layout *m) {
    h->list_op_pending = m ? (struct robust_list *)&m->next : NULL;
    BARRIER();
}

/* Puts m first on the list (glibc's ENQUEUE_MUTEX), and takes it off. */
static void list_add(struct robust_list_head *h, struct truk_mutex_layout *m) {
    uint64_t first = (uint64_t)(uintptr_t)h->list.next;
    *link_prev(first) = (uint64_t)(uintptr_t)&m->next;
    m->next = first;
    m->prev = (uint64_t)(uintptr_t)&h->list;
    BARRIER();
    h->list.next = (struct robust_list *)&m->next;
}

static void list_del(struct truk_mutex_layout *m) {
    *link_prev(m->next) = m->prev;
    *(uint64_t *)(uintptr_t)(m->prev & ~(uint64_t)1) = m->next;
    BARRIER();
    m->prev = 0;
    m->next = 0;
}

static bool word_cas(uint32_t *w, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n(w, &expected, desired, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

/* Just acquired (list_op_pending, if any, names m): record ourselves. */
static void mutex_took(struct mutex_self *s, struct truk_mutex_layout *m, struct robust_list_head *h) {
    if (h) {
        list_add(h, m);
        list_pending(h, NULL);
    }
    __atomic_store_n(&m->owner, s->owner, __ATOMIC_RELAXED);
    __atomic_store_n(&m->listed, h ? 1u : 0u, __ATOMIC_RELAXED);
}

static bool mutex_mine(struct mutex_self *s, struct truk_mutex_layout *m, uint32_t word) {
    return (word & TRUK_MUTEX_TID_MASK) == s->tid &&
           __atomic_load_n(&m->owner, __ATOMIC_RELAXED) == s->owner;
}

/* Did the holder named by `word` die? The kernel says so with OWNER_DIED;
 * otherwise ask /proc. `owner` is trusted only when it names the same tid (it
 * is written just after the word). */
static bool holder_dead(struct truk_mutex_layout *m, uint32_t word) {
    uint32_t tid = word & TRUK_MUTEX_TID_MASK;
    if ((word & TRUK_MUTEX_OWNER_DIED) || tid == 0)
        return true;
    uint64_t owner = __atomic_load_n(&m->owner, __ATOMIC_RELAXED);
    if ((uint32_t)owner != tid)
        return proc_dead(tid, 0, false);
    uint64_t start = 0;
    enum proc_state s = proc_stat(tid, &start);
    return s == PROC_DEAD || (s == PROC_ALIVE && (start & 0xffffffffu) != owner >> 32);
}

/* Will the kernel wake us when the holder named by `word` dies? */
static bool holder_listed(struct truk_mutex_layout *m, uint32_t word) {
    return __atomic_load_n(&m->listed, __ATOMIC_RELAXED) &&
           (uint32_t)__atomic_load_n(&m->owner, __ATOMIC_RELAXED) == (word & TRUK_MUTEX_TID_MASK);
}

/* The Truk source place of the lock or unlock under way (generated code calls the
 * _at entry points), named by a misuse's panic. */
static const char *mutex_site;
static uint64_t mutex_site_at; /* line << 32 | column */

static _Noreturn void mutex_misuse(const char *what) {
    char buf[1024], site[1024];
    if (mutex_site && *mutex_site) {
        snprintf(buf, sizeof buf, "%s (at %s)", what, __truk_site(site, sizeof site, mutex_site, mutex_site_at));
        what = buf;
    }
    __truk_panic_cstr(what);
}

static bool mutex_lock_slow(struct mutex_self *s, struct truk_mutex_layout *m,
                            struct robust_list_head *h) {
    uint32_t *w = &m->word;
    if (mutex_mine(s, m, __atomic_load_n(w, __ATOMIC_RELAXED))) {
        if (h)
            list_pending(h, NULL);
        mutex_misuse("Mutex: lock by the process that already holds it (deadlock)");
    }
    int64_t poll_ms = 1;
    bool check = false;
    /* A holder usually lets go within a few hundred ns; a futex sleep and its
     * wake-up cost microseconds, and every unlock after that a wake-up call.
     * So a bounded spin first; a lock taken in it is taken as by the fast
     * path, without WAITERS (anyone asleep set it, and the unlock that woke
     * one cleared it: the woken one sets it again if it must sleep). */
    for (unsigned n = 0; n < MUTEX_SPIN; n++) {
        uint32_t cur = __atomic_load_n(w, __ATOMIC_RELAXED);
        if (cur == 0 && word_cas(w, 0, s->tid)) {
            mutex_took(s, m, h);
            return false;
        }
        if (cur & TRUK_MUTEX_OWNER_DIED)
            break;
        truk_cpu_relax();
    }
    for (;;) {
        uint32_t cur = __atomic_load_n(w, __ATOMIC_RELAXED);
        uint32_t mine = s->tid | TRUK_MUTEX_WAITERS; /* after contention: others may sleep */
        if (cur == 0) {
            if (word_cas(w, 0, mine)) {
                mutex_took(s, m, h);
                return false;
            }
            continue;
        }
        if ((check || (cur & TRUK_MUTEX_OWNER_DIED)) && holder_dead(m, cur)) {
            if (word_cas(w, cur, mine)) {
                mutex_took(s, m, h);
                return true;
            }
            continue;
        }
        if (!(cur & TRUK_MUTEX_WAITERS)) {
            if (!word_cas(w, cur, cur | TRUK_MUTEX_WAITERS))
                continue;
            cur |= TRUK_MUTEX_WAITERS;
        }
        bool listed = holder_listed(m, cur);
        struct timespec d = deadline_in(listed ? TRUK_MUTEX_BACKSTOP_MS : poll_ms);
        check = futex_wait_until(w, cur, &d) == ETIMEDOUT;
        if (check && !listed && poll_ms < MUTEX_POLL_MAX_MS)
            poll_ms *= 2;
    }
}

bool __truk_mutex_lock(void *p) {
    struct mutex_self *s = mutex_self();
    struct truk_mutex_layout *m = p;
    struct robust_list_head *h = mutex_list(s, m);
    if (h)
        list_pending(h, m); /* covers a death between the CAS and list_add */
    if (word_cas(&m->word, 0, s->tid)) {
        mutex_took(s, m, h);
        return false;
    }
    return mutex_lock_slow(s, m, h);
}

bool __truk_mutex_try_lock(void *p) {
    struct mutex_self *s = mutex_self();
    struct truk_mutex_layout *m = p;
    struct robust_list_head *h = mutex_list(s, m);
    if (h)
        list_pending(h, m);
    if (word_cas(&m->word, 0, s->tid)) {
        mutex_took(s, m, h);
        return true;
    }
    uint32_t cur = __atomic_load_n(&m->word, __ATOMIC_RELAXED);
    if (cur != 0 && (cur & TRUK_MUTEX_TID_MASK) != s->tid && holder_dead(m, cur) &&
        word_cas(&m->word, cur, s->tid | (cur & TRUK_MUTEX_WAITERS))) {
        mutex_took(s, m, h);
        return true;
    }
    if (h)
        list_pending(h, NULL);
    return false;
}

/* Releases m, which we hold: off our list, then the word; `died` marks it as
 * a dead holder's instead (what the kernel does when we die), for leave. */
static void mutex_release(struct mutex_self *s, struct truk_mutex_layout *m, bool died) {
    struct robust_list_head *h = __atomic_load_n(&m->listed, __ATOMIC_RELAXED) ? s->head : NULL;
    __atomic_store_n(&m->owner, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&m->listed, 0, __ATOMIC_RELAXED);
    if (h) {
        list_pending(h, m); /* a death from here on still wakes a waiter */
        list_del(m);
    }
    uint32_t old;
    if (died) { /* only WAITERS may change meanwhile */
        old = __atomic_load_n(&m->word, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&m->word, &old,
                                            (old & TRUK_MUTEX_WAITERS) | TRUK_MUTEX_OWNER_DIED,
                                            false, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
            ;
    } else {
        old = __atomic_exchange_n(&m->word, 0, __ATOMIC_RELEASE);
    }
    if (old & TRUK_MUTEX_WAITERS)
        futex(&m->word, FUTEX_WAKE, 1, NULL);
    if (h) {
        BARRIER();
        list_pending(h, NULL);
    }
}

void __truk_mutex_unlock(void *p) {
    struct mutex_self *s = mutex_self();
    struct truk_mutex_layout *m = p;
    if (!mutex_mine(s, m, __atomic_load_n(&m->word, __ATOMIC_RELAXED)))
        mutex_misuse("Mutex: unlock by a process that does not hold it");
    mutex_release(s, m, false);
}

bool __truk_mutex_lock_at(void *p, const char *file, uint64_t at) {
    mutex_site = file;
    mutex_site_at = at;
    bool died = __truk_mutex_lock(p);
    mutex_site = NULL;
    return died;
}

void __truk_mutex_unlock_at(void *p, const char *file, uint64_t at) {
    mutex_site = file;
    mutex_site_at = at;
    __truk_mutex_unlock(p);
    mutex_site = NULL;
}

/* Before the region is unmapped (leave): every Mutex in it that this thread
 * holds is handed on as a dead holder's, so that no entry of glibc's list
 * points into unmapped memory and the next lock() returns true. */
static void mutex_abandon_region(void) {
    struct mutex_self *s = &mself;
    if (!s->tid || !s->head || !fl.base)
        return;
    struct robust_list_head *h = s->head;
    uint64_t e = (uint64_t)(uintptr_t)h->list.next & ~(uint64_t)1;
    for (int n = 0; e != (uint64_t)(uintptr_t)&h->list && n < 4096; n++) {
        uint64_t next = *(uint64_t *)(uintptr_t)e & ~(uint64_t)1;
        struct truk_mutex_layout *m =
            (struct truk_mutex_layout *)(uintptr_t)(e - offsetof(struct truk_mutex_layout, next));
        if ((uintptr_t)m - (uintptr_t)fl.base < fl.size &&
            mutex_mine(s, m, __atomic_load_n(&m->word, __ATOMIC_RELAXED)))
            mutex_release(s, m, true);
        e = next;
    }
}

/* ---- spawn ------------------------------------------------------------- */

/* The emulator a program runs under, when it runs under one: `truk run` and
 * `truk test` set it to the command line they start a foreign program with
 * (e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu"), words separated by spaces.
 * Under qemu-user without binfmt_misc, /proc/self/exe names the emulator (or
 * a foreign binary the kernel cannot exec), so spawn runs
 * `wrapper... <own executable> args` instead. */
#define TRUK_SPAWN_WRAPPER_ENV "TRUK_SPAWN_WRAPPER"
#define TRUK_SPAWN_WRAPPER_WORDS 32

/* Spawns through the wrapper `wrap`. all[room] is argv[0], followed by the
 * arguments and a NULL (n entries from all[room] on, the NULL included);
 * all[0..room) is free for the wrapper's words. */
static int spawn_wrapped(pid_t *pid, const char *wrap, char **all, size_t room, size_t n, char **envp) {
    /* Our own executable: qemu answers this readlink with the program it emulates. */
    static char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return len < 0 ? errno : ENOENT;
    exe[len] = 0;
    char *copy = strdup(wrap);
    if (!copy)
        return ENOMEM;
    size_t k = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (k == room) {
            free(copy);
            return E2BIG;
        }
        all[k++] = t;
    }
    int err = EINVAL; /* a wrapper of blanks only */
    if (k > 0) {
        /* wrapper words, then our executable (in argv[0]'s place), the arguments, NULL */
        all[room] = exe;
        memmove(all + k, all + room, n * sizeof *all);
        err = posix_spawnp(pid, all[0], NULL, NULL, all, envp);
    }
    free(copy);
    return err;
}

int64_t __truk_spawn(const char *const *args, uint64_t len) {
    return __truk_spawn_env(args, len, environ);
}

int64_t __truk_spawn_env(const char *const *args, uint64_t len, char **envp) {
    if (len > 1u << 20 || (len && !args))
        return -1;
    const char *wrap = getenv(TRUK_SPAWN_WRAPPER_ENV);
    size_t room = wrap && *wrap ? TRUK_SPAWN_WRAPPER_WORDS : 0;
    /* [room free slots for the wrapper's words][argv0][args...][NULL] */
    char **all = calloc(room + (size_t)len + 2, sizeof *all);
    if (!all)
        return -1;
    char **argv = all + room;
    char **ours = __truk_rt_argv();
    argv[0] = ours && ours[0] ? ours[0] : "truk-program";
    for (uint64_t i = 0; i < len; i++)
        argv[i + 1] = (char *)args[i];
    fflush(NULL); /* keep our output ahead of the child's */
    pid_t pid;
    int err = room ? spawn_wrapped(&pid, wrap, all, room, (size_t)len + 2, envp)
                   : posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, envp);
    free(all);
    return err ? -1 : (int64_t)pid;
}

int32_t __truk_wait_child(int64_t pid) {
    if (pid <= 0 || pid > INT_MAX)
        return -1;
    int st;
    while (waitpid((pid_t)pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

/* ---- channel movers (chan.c; see "Channels" in truk_fleet.h) ------------ */

/* Who moves a channel message: (slot + 1) | low bits of the slot's claim
 * count; 0 outside a fleet (such a channel is private to this process). */
uint32_t __truk_fleet_mover(void) { return __truk_fleet_me; }

bool __truk_fleet_mover_dead(uint32_t mover) {
    uint32_t slot = (mover & ((1u << TRUK_CHAN_MOVER_SLOT_BITS) - 1)) - 1;
    if (!fl.joined || mover == 0 || slot >= fl.note.fleet_capacity)
        return false;
    struct truk_fleet_slot *s = &fl.table[slot];
    uint64_t w = load64(&s->word);
    uint32_t count = (uint32_t)((w & TRUK_SLOT_COUNT_MASK) >> 2);
    uint32_t mask = TRUK_CHAN_MOVER_MASK >> TRUK_CHAN_MOVER_SLOT_BITS;
    if ((w & TRUK_SLOT_STATUS_MASK) == TRUK_SLOT_FREE || (count & mask) != mover >> TRUK_CHAN_MOVER_SLOT_BITS)
        return true; /* the slot was freed (and maybe claimed again, by us too) since */
    return slot != fl.self && slot_dead(s, w);
}

/* Whether CLOCK_MONOTONIC passed `deadline_ns` (0: never). */
static bool past(uint64_t deadline_ns) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return deadline_ns && (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec >= deadline_ns;
}

/* Waits until no live member other than us (only `holder`'s slot when it is
 * not 0) is inside an operation on the channel side `side` (its in_op word),
 * or until `deadline_ns` (CLOCK_MONOTONIC; 0: none; TRUK_FLEET_QUIESCE_NOW:
 * no waiting, one look at each). false: timed out, some live member (a
 * stopped one) is still inside. The caller issued a
 * membarrier first, so an in_op stored before it is seen here. */
bool __truk_fleet_quiesce(uint64_t side, uint32_t holder, uint64_t deadline_ns) {
    if (!fl.joined)
        return true;
    uint32_t lo = 0, hi = fl.note.fleet_capacity;
    if (holder) {
        lo = (holder & ((1u << TRUK_CHAN_MOVER_SLOT_BITS) - 1)) - 1;
        hi = lo + 1;
        if (lo >= fl.note.fleet_capacity)
            return true;
    }
    for (uint32_t i = lo; i < hi; i++) {
        if (i == fl.self)
            continue;
        /* A big table: the scan is bounded too (one look at each is bounded already). */
        if (i % 4096 == 4095 && deadline_ns != TRUK_FLEET_QUIESCE_NOW && past(deadline_ns))
            return false;
        struct truk_fleet_slot *s = &fl.table[i];
        for (unsigned n = 1; load64(&s->in_op) == side; n++) {
            if (n % 64 == 0 || deadline_ns == TRUK_FLEET_QUIESCE_NOW) { /* a live member leaves within a few pauses */
                uint64_t w = load64(&s->word);
                bool dead = holder ? __truk_fleet_mover_dead(holder)
                                   : (w & TRUK_SLOT_STATUS_MASK) == TRUK_SLOT_FREE || slot_dead(s, w);
                if (dead)
                    break;
                if (past(deadline_ns))
                    return false;
                if (n >= 1024) { /* preempted or stopped: let it run */
                    struct timespec nap = {0, 50000};
                    nanosleep(&nap, NULL);
                }
            }
            truk_cpu_relax();
        }
    }
    return true;
}

/* A full memory barrier on every CPU that runs a member (registered). */
void __truk_fleet_membarrier(void) { syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0); }
