/* resident.c: see resident.h. */
#include "base/compat.h"
#include "base/resident.h"

#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct drop {
    uintptr_t page;
    size_t advised;
};

/* Advise [lo, hi) rounded inwards to whole pages, so no page that a writable neighbour
 * shares is ever touched. */
static void advise(struct drop *d, uintptr_t lo, uintptr_t hi)
{
    lo = (lo + d->page - 1) & ~(d->page - 1);
    hi &= ~(d->page - 1);
    if (hi <= lo)
        return;
    if (madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0)
        d->advised += hi - lo;
}

static int drop_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct drop *d = arg;
    /* the vDSO is the kernel's own mapping, not a file's */
    if (strstr(info->dlpi_name, "linux-vdso") || strstr(info->dlpi_name, "linux-gate"))
        return 0;
    uintptr_t relro_lo = 0, relro_hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_RELRO) {
            relro_lo = info->dlpi_addr + ph->p_vaddr;
            relro_hi = relro_lo + ph->p_memsz;
        }
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        /* p_filesz, not p_memsz: a tail past the file's bytes would be anonymous zeroes */
        uintptr_t hi = lo + ph->p_filesz;
        if (relro_hi > lo && relro_lo < hi) { /* RELRO inside a read-only segment */
            advise(d, lo, relro_lo);
            advise(d, relro_hi, hi);
        } else {
            advise(d, lo, hi);
        }
    }
    return 0;
}

size_t sl_resident_drop_code(void)
{
    long page = sysconf(_SC_PAGESIZE);
    struct drop d = {.page = page > 0 ? (uintptr_t)page : 4096, .advised = 0};
    dl_iterate_phdr(drop_object, &d);
    return d.advised;
}
