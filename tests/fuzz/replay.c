/* replay.c: runs a fuzz target over every file of its corpus directories, so the corpus is
 * an ordinary regression test under ctest. Prints `N passed, 0 failed`; a crash fails. */
#include "base/compat.h"
#include "base/fs.h"

#include <dirent.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const char *path, int *count)
{
    if (!sl_fs_is_dir(path)) {
        char *buf = NULL;
        size_t len = 0;
        if (sl_fs_read_file(path, 64u << 20, &buf, &len, NULL) < 0) {
            fprintf(stderr, "cannot read %s\n", path);
            return -1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
        free(buf);
        (*count)++;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && rc == 0) {
        if (e->d_name[0] == '.')
            continue;
        char *child = sl_fs_join(path, e->d_name);
        rc = replay(child, count);
        free(child);
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    int count = 0;
    for (int i = 1; i < argc; i++)
        if (replay(argv[i], &count) < 0)
            return 1;
    if (count == 0) {
        fprintf(stderr, "no corpus files found\n");
        return 1;
    }
    printf("%d passed, 0 failed\n", count);
    return 0;
}
