/* sluice-sandbox: the sandbox executor's helper as a program of its own (exec/sandbox.c).
 * The same code as `sluice __sandbox`, in a binary that loads only libc: a job pays for
 * starting this helper, and the full sluice binary's libraries cost milliseconds to load. */
#include "exec/exec.h"

int main(int argc, char **argv)
{
    return sl_exec_sandbox_main(argc, argv);
}
