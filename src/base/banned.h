/* banned.h: C library calls the codebase does not use (as git's banned.h): included last by
 * compat.h in everything built with SL_BANNED: every room, the CLI and the sandbox helper
 * (CMakeLists.txt), so a new use fails the build.
 *
 *  - atoi, atol, atoll: no error, undefined behaviour on overflow; outside input is parsed
 *    with strtol/strtoll and a range, or sl_parse_ll (base/str.h);
 *  - strcpy, strcat, sprintf, vsprintf: no bound; sl_str, snprintf, sl_xasprintf;
 *  - strtok: hidden state, not thread-safe; strtok_r or strcspn;
 *  - gets: never. */
#ifndef SL_BANNED_H
#define SL_BANNED_H

#define SL_BANNED_CALL(func) sorry_##func##_is_banned_see_base_banned_h

#undef atoi
#define atoi(x) SL_BANNED_CALL(atoi)
#undef atol
#define atol(x) SL_BANNED_CALL(atol)
#undef atoll
#define atoll(x) SL_BANNED_CALL(atoll)
#undef strcpy
#define strcpy(x, y) SL_BANNED_CALL(strcpy)
#undef strcat
#define strcat(x, y) SL_BANNED_CALL(strcat)
#undef sprintf
#define sprintf(...) SL_BANNED_CALL(sprintf)
#undef vsprintf
#define vsprintf(...) SL_BANNED_CALL(vsprintf)
#undef strtok
#define strtok(x, y) SL_BANNED_CALL(strtok)
#undef gets
#define gets(x) SL_BANNED_CALL(gets)

#endif
