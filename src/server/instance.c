/* instance.c: who this server is among the servers that share its store, and what a server
 * that is gone left behind.
 *
 * Each start takes a fresh instance id (8 random hex digits); its workers are named
 * "serve@HOST:ID/worker-N", so that no two running servers ever share a worker id, on one
 * host or one data directory (tests/e2e/server_two.sh runs two on one of each). For as long
 * as it runs, the server holds an exclusive flock(2) on DATA/instances/ID. At start-up, every
 * file there that no process holds names a server of this data directory that stopped or
 * crashed: the jobs its workers left running are failed at once (recover in worker.c), not
 * when their leases lapse, and its file is removed (a stopping server leaves its file for
 * the next start to find). A kernel drops a flock with its process,
 * however it dies, so a live server is never taken for a dead one. Servers of other data
 * directories or hosts are not seen here; their jobs lapse with their leases. */
#include "base/compat.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "server/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <unistd.h>

static char *instances_dir(const struct sl_server *s)
{
    return sl_fs_join(s->data_dir, "instances");
}

static bool is_instance_name(const char *n)
{
    size_t len = strlen(n);
    if (len != 8)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
            return false;
    return true;
}

static char *prefix_of(const char *id)
{
    char host[128] = "localhost";
    gethostname(host, sizeof(host) - 1);
    return sl_xasprintf("serve@%.100s:%s/", host, id);
}

int sl_srv_instance_start(struct sl_server *s, char ***gone, size_t *ngone, struct sl_error *err)
{
    char *dir = instances_dir(s), *mine = NULL;
    char **list = NULL;
    size_t n = 0;
    int rc = sl_fs_mkdir_p(dir, 0700, err);
    if (rc < 0)
        goto out;
    DIR *d = opendir(dir);
    if (!d) {
        rc = sl_error_set(err, SL_EIO, "cannot read %s: %s", dir, strerror(errno));
        goto out;
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_instance_name(e->d_name))
            continue;
        char *path = sl_fs_join(dir, e->d_name);
        int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        /* held: that server runs; gone: its jobs are to be failed, its file goes */
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            list = sl_xrealloc(list, (n + 1) * sizeof(*list));
            list[n++] = prefix_of(e->d_name);
            unlink(path);
        }
        if (fd >= 0)
            close(fd);
        free(path);
    }
    closedir(d);

    unsigned char r[4];
    char id[9];
    randombytes_buf(r, sizeof(r));
    snprintf(id, sizeof(id), "%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
    mine = sl_fs_join(dir, id);
    int fd = open(mine, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
        rc = sl_error_set(err, SL_EIO, "cannot hold %s: %s", mine, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    s->instance_fd = fd; /* held until sl_srv_instance_stop or the process ends */
    s->instance_file = mine;
    mine = NULL;
    free(s->worker_prefix);
    s->worker_prefix = prefix_of(id);
    *gone = list;
    *ngone = n;
    list = NULL;
    n = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
    free(mine);
    free(dir);
    return rc;
}

void sl_srv_instance_stop(struct sl_server *s)
{
    /* the file stays: the next start sees it unheld and fails what this run left running
     * (a clean stop leaves nothing; a stop whose cancels did not all land, something) */
    if (s->instance_file) {
        close(s->instance_fd);
        free(s->instance_file);
        s->instance_file = NULL;
    }
}
