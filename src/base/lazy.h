/* lazy.h: shared libraries the idle server does not need, loaded on first use.
 *
 * libgit2, libcurl, libpq, libarchive and libxml2 bring some 40 further libraries
 * (mbedTLS, OpenSSL, Kerberos, LDAP, ICU, libstdc++, ...) whose loading alone is most of
 * an idle `sluice serve`'s memory. When SL_LAZY_LIBS is on (x86-64), the binary is not
 * linked against them: cmake/lazy.cmake generates, for every function each of them
 * exports, a stub of the same name that jumps through a pointer table. The first call of
 * any stub dlopens its library and resolves that one function (sl_lazy_resolve); later
 * calls cost one indirect jump. Callers include the libraries' headers and call them as
 * usual: nothing in the code names this module but the tables.
 *
 * A library that cannot be loaded at its first use ends the process with a message naming
 * it (the same outcome as the dynamic loader refusing to start the binary without it). */
#ifndef SL_LAZY_H
#define SL_LAZY_H

#include <stddef.h>

struct sl_lazy_lib {
    const char *soname;      /* "libgit2.so.1.5": what dlopen loads */
    const char *names;       /* the stubs' function names, each NUL-terminated */
    const unsigned *offsets; /* where each function's name starts in NAMES */
    void **ptrs;             /* resolved addresses, NULL until first use */
    size_t count;
    void *handle; /* dlopen's handle, set once (atomically) */
};

/* Called by the stubs (through the register-saving trampoline in lazy.c): loads LIB if it
 * is not yet, resolves function INDEX, stores it in LIB->ptrs and returns it. Never
 * returns NULL: a missing library or symbol ends the process. Thread-safe. */
void *sl_lazy_resolve(struct sl_lazy_lib *lib, unsigned index);

/* 1 when LIB's library is loaded already (for diagnostics and tests). */
int sl_lazy_loaded(const struct sl_lazy_lib *lib);

#endif
