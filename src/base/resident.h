/* resident.h: hand back the code pages that start-up touched and idling does not.
 *
 * A process's resident set counts every page of a shared library's or the binary's code
 * that it has run once. Start-up runs much code that an idle server never runs again
 * (migrations, key generation, GnuTLS's initialisation in libmicrohttpd's constructor, the
 * dynamic loader's relocation of 16 libraries), and that code stays mapped, counted in the
 * server's RSS, until the kernel reclaims it under memory pressure.
 *
 * sl_resident_drop_code() unmaps, from this process's page tables only, the pages of every
 * loaded object's segments that are never written: code and read-only data outside
 * PT_GNU_RELRO (RELRO pages were written by the loader's relocations, so they are private
 * copies and must stay). The page cache keeps them; the next instruction or read that needs
 * one faults it back in (a minor fault, microseconds), so the resident set settles at what
 * the idle server actually runs. Nothing is lost whatever runs at the same time: a
 * private file mapping's unwritten page read after MADV_DONTNEED reads the file again.
 *
 * Returns the number of bytes advised (0 on systems without dl_iterate_phdr or madvise).
 * Errors of single ranges are ignored: the call only ever shrinks what is resident. */
#ifndef SL_RESIDENT_H
#define SL_RESIDENT_H

#include <stddef.h>

size_t sl_resident_drop_code(void);

#endif
