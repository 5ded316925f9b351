/* A disk model for power-cut tests, loaded with LD_PRELOAD into the process under test.
 *
 * Whenever an fsync, fdatasync or msync of a file under POWERCUT_ROOT succeeds, the file's whole
 * content is copied to POWERCUT_SHADOW: the shadow is what a power cut would leave of the file.
 * After killing the process, the test rolls every file back to its shadow, plus a random prefix of
 * what was appended after it (a torn tail); a file never synced keeps a random prefix of itself.
 * Renames and unlinks move or drop the shadow at once (directory metadata counts as durable).
 *
 * Mutations and faults, by environment:
 *   POWERCUT_DROP=a,b     an fsync of a file whose path contains a or b returns success without
 *                         syncing: the disk's view of that fsync removed from the code.
 *   POWERCUT_EIO=a        once the file POWERCUT_EIO_TRIGGER exists, an fsync of a file whose path
 *                         contains a fails with EIO (the disk lost the write).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root;
static size_t root_len;
static const char *shadow;
static const char *drop_list;
static const char *eio_sub;
static const char *eio_trigger;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_msync)(void *, size_t, int);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);

#define MAX_MAPS 1024
static struct {
    char *addr;
    size_t len;
    char path[PATH_MAX];
} maps[MAX_MAPS];

__attribute__((constructor)) static void init(void) {
    if (real_fsync) return;
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_msync = dlsym(RTLD_NEXT, "msync");
    real_mmap = dlsym(RTLD_NEXT, "mmap");
    real_munmap = dlsym(RTLD_NEXT, "munmap");
    real_rename = dlsym(RTLD_NEXT, "rename");
    real_renameat = dlsym(RTLD_NEXT, "renameat");
    real_renameat2 = dlsym(RTLD_NEXT, "renameat2");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
    real_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
    root = getenv("POWERCUT_ROOT");
    root_len = root ? strlen(root) : 0;
    shadow = getenv("POWERCUT_SHADOW");
    drop_list = getenv("POWERCUT_DROP");
    eio_sub = getenv("POWERCUT_EIO");
    eio_trigger = getenv("POWERCUT_EIO_TRIGGER");
}

static int tracked(const char *path) {
    return root && shadow && strncmp(path, root, root_len) == 0 &&
           (path[root_len] == '/' || path[root_len] == 0);
}

/* The shadow's name: the path below the root with '/' replaced by '!'. */
static void shadow_name(const char *path, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", shadow, path + root_len + (path[root_len] == '/'));
    for (char *p = out + strlen(shadow) + 1; *p; p++)
        if (*p == '/') *p = '!';
}

static int fd_path(int fd, char *out, size_t cap) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, cap - 1);
    if (n < 0) return -1;
    out[n] = 0;
    return 0;
}

static int listed(const char *path, const char *list) {
    if (!list || !*list) return 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (*tok && strstr(path, tok)) return 1;
    return 0;
}

/* Copies the file's current content to its shadow (atomically: a temporary, then a rename). */
static void snapshot(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return;
    char dst[PATH_MAX], tmp[PATH_MAX + 8];
    shadow_name(path, dst, sizeof dst);
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    pthread_mutex_lock(&lock);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in >= 0 && out >= 0) {
        char buf[1 << 16];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) break;
        real_rename(tmp, dst);
    }
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    pthread_mutex_unlock(&lock);
}

/* 1: pretend (dropped fsync), -1: fail with EIO, 0: sync for real. */
static int fault(const char *path) {
    if (listed(path, drop_list)) return 1;
    if (eio_sub && *eio_sub && strstr(path, eio_sub) && eio_trigger && access(eio_trigger, F_OK) == 0)
        return -1;
    return 0;
}

static int sync_fd(int fd, int (*real)(int)) {
    char path[PATH_MAX];
    if (fd_path(fd, path, sizeof path) != 0 || !tracked(path)) return real(fd);
    switch (fault(path)) {
    case 1:
        return 0;
    case -1:
        errno = EIO;
        return -1;
    }
    int r = real(fd);
    if (r == 0) snapshot(path);
    return r;
}

int fsync(int fd) {
    init();
    return sync_fd(fd, real_fsync);
}
int fdatasync(int fd) {
    init();
    return sync_fd(fd, real_fdatasync);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    init();
    void *r = real_mmap(addr, len, prot, flags, fd, off);
    char path[PATH_MAX];
    if (r != MAP_FAILED && fd >= 0 && (flags & MAP_SHARED) && fd_path(fd, path, sizeof path) == 0 &&
        tracked(path)) {
        pthread_mutex_lock(&lock);
        for (int i = 0; i < MAX_MAPS; i++)
            if (!maps[i].addr) {
                maps[i].addr = r;
                maps[i].len = len;
                snprintf(maps[i].path, sizeof maps[i].path, "%s", path);
                break;
            }
        pthread_mutex_unlock(&lock);
    }
    return r;
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

int munmap(void *addr, size_t len) {
    init();
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_MAPS; i++)
        if (maps[i].addr == addr) maps[i].addr = NULL;
    pthread_mutex_unlock(&lock);
    return real_munmap(addr, len);
}

int msync(void *addr, size_t len, int flags) {
    init();
    char path[PATH_MAX] = {0};
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_MAPS; i++)
        if (maps[i].addr && (char *)addr >= maps[i].addr &&
            (char *)addr < maps[i].addr + maps[i].len) {
            snprintf(path, sizeof path, "%s", maps[i].path);
            break;
        }
    pthread_mutex_unlock(&lock);
    if (!path[0]) return real_msync(addr, len, flags);
    switch (fault(path)) {
    case 1:
        return 0;
    case -1:
        errno = EIO;
        return -1;
    }
    int r = real_msync(addr, len, flags);
    if (r == 0 && (flags & MS_SYNC)) snapshot(path);
    return r;
}

/* An absolute form of (dirfd, path) for tracking; relative paths resolve against the cwd. */
static void absolute(int dirfd, const char *path, char *out, size_t cap) {
    if (path[0] == '/') {
        snprintf(out, cap, "%s", path);
        return;
    }
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof base)) base[0] = 0;
    } else if (fd_path(dirfd, base, sizeof base) != 0) {
        base[0] = 0;
    }
    snprintf(out, cap, "%s/%s", base, path);
}

static void moved(const char *from, const char *to) {
    char a[PATH_MAX], b[PATH_MAX];
    if (tracked(to)) {
        shadow_name(to, b, sizeof b);
        if (tracked(from)) {
            shadow_name(from, a, sizeof a);
            if (real_rename(a, b) == 0) return;
        }
        real_unlink(b);
    }
}

static void removed(const char *path) {
    char a[PATH_MAX];
    if (tracked(path)) {
        shadow_name(path, a, sizeof a);
        real_unlink(a);
    }
}

/* After a rename of (fd1, from) to (fd2, to) that returned r: the shadow follows. */
static int renamed(int r, int fd1, const char *from, int fd2, const char *to) {
    if (r == 0) {
        char a[PATH_MAX], b[PATH_MAX];
        absolute(fd1, from, a, sizeof a);
        absolute(fd2, to, b, sizeof b);
        moved(a, b);
    }
    return r;
}

int rename(const char *from, const char *to) {
    init();
    return renamed(real_rename(from, to), AT_FDCWD, from, AT_FDCWD, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to) {
    init();
    return renamed(real_renameat(fd1, from, fd2, to), fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned int flags) {
    init();
    return renamed(real_renameat2(fd1, from, fd2, to, flags), fd1, from, fd2, to);
}

int unlink(const char *path) {
    init();
    char a[PATH_MAX];
    absolute(AT_FDCWD, path, a, sizeof a);
    int r = real_unlink(path);
    if (r == 0) removed(a);
    return r;
}

int unlinkat(int dirfd, const char *path, int flags) {
    init();
    char a[PATH_MAX];
    absolute(dirfd, path, a, sizeof a);
    int r = real_unlinkat(dirfd, path, flags);
    if (r == 0 && !(flags & AT_REMOVEDIR)) removed(a);
    return r;
}
