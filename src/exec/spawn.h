/* spawn.h: start a process in its own session and watch it, from any thread.
 *
 * Internal to the exec room; every executor that runs local processes uses it.
 *
 * Why it looks like this:
 *  - posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK) then exec) is safe from a threaded
 *    process: nothing runs in the child between clone and exec that could take a lock
 *    another thread holds, and nothing allocates there.
 *  - The child gets a new session (POSIX_SPAWN_SETSID), so its process group id is its
 *    pid and the whole job can be signalled with kill(-pid, sig), and a Ctrl-C on the
 *    terminal reaches sluice, not the job.
 *  - Signal dispositions and the signal mask are reset in the child: a runner that
 *    ignores SIGPIPE or blocks SIGINT in its threads must not pass that on to jobs.
 *  - Every descriptor above the ones set up here is closed in the child
 *    (posix_spawn_file_actions_addclosefrom_np), so a descriptor another thread opened
 *    without O_CLOEXEC does not leak into jobs.
 *  - The process is watched through a pidfd (pidfd_open), which a poll loop can wait on,
 *    and waited for by pid only, so other threads' children are never reaped here. When
 *    the kernel has no pidfd_open, pidfd is -1 and the caller polls with a short tick.
 *  - Each group started here is listed with a guard process (spawn.c) until the caller
 *    says it is done with it (sl_exec_proc_done); when this process dies, however (kill -9
 *    of a server, an agent, `sluice run`), the guard kills every group still listed, so a
 *    job never outlives what ran it. */
#ifndef SL_EXEC_SPAWN_H
#define SL_EXEC_SPAWN_H

#include "base/compat.h"
#include "base/error.h"

#include <sys/types.h>

struct sl_exec_proc {
    pid_t pid; /* also its process group id and session id */
    int pidfd; /* readable once the process has exited; -1 when unavailable */
    bool exited;
    bool reaped;
    int exit_code; /* exit code, or 128 + signal; valid once exited */
    int signal;    /* the signal that ended it, or 0; valid once exited */
    bool guarded;  /* listed with the guard until sl_exec_proc_done */
};

struct sl_exec_spawn_opts {
    const char *path;  /* absolute path of the program */
    char *const *argv; /* NULL-terminated */
    char *const *envp; /* NULL-terminated */
    const char *cwd;   /* NULL: inherit */
    int out_fd;        /* becomes the child's stdout and stderr */
    int extra_fd;      /* becomes the child's fd 3; -1: none */
    /* When SET_IDS, the child drops to UID and GID (no supplementary groups) before exec;
     * the caller must be allowed to (root). The child is then made with fork instead of
     * posix_spawn, and runs only async-signal-safe system calls before exec. */
    bool set_ids;
    uid_t uid;
    gid_t gid;
};

/* Starts the program of OPTS with stdin on /dev/null in a new session. On success fills
 * *P (release with sl_exec_proc_reap, and sl_exec_proc_done once the group is finished
 * with). Fails with SL_ENOENT when the program or the
 * working directory does not exist, SL_EIO otherwise; ERR says which. */
int sl_exec_proc_spawn(struct sl_exec_proc *p, const struct sl_exec_spawn_opts *opts,
                       struct sl_error *err);
/* True when the process has exited; records its status but leaves it a zombie, so that
 * its pid (and so its process group id) cannot be reused until sl_exec_proc_reap. */
bool sl_exec_proc_check_exit(struct sl_exec_proc *p);
/* Sends SIG to the process group. Returns 0, or -1 when the group is empty (ESRCH). */
int sl_exec_proc_signal_group(const struct sl_exec_proc *p, int sig);
/* True when no process is left in the group. Only meaningful once reaped: a zombie
 * leader still counts as a member. */
bool sl_exec_proc_group_empty(const struct sl_exec_proc *p);
/* Ends the guard's watch of the group: call it once the group is finished with (empty, or
 * sent SIGKILL), or its id, free again, could be another's when this process dies.
 * Idempotent; a no-op for a process that never started. */
void sl_exec_proc_done(struct sl_exec_proc *p);
/* Waits for the (exited) process to be gone, collecting its status when not yet known,
 * and closes the pidfd. Blocks when the process is still running. Idempotent. */
void sl_exec_proc_reap(struct sl_exec_proc *p);

/* Finds NAME in the colon-separated SEARCH_PATH as execvp would, except that empty
 * entries are skipped; NAME with a slash is taken as it is; a NULL SEARCH_PATH means
 * /usr/local/bin:/usr/bin:/bin. Returns a new string (caller frees) or NULL when no executable file
 * matches. */
char *sl_exec_find_program(const char *name, const char *search_path);

#endif
