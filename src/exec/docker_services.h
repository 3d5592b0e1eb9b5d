/* docker_services.h: the `services:` of a docker job (internal to the exec room; docker.c
 * uses it).
 *
 * As the runner's docker executor does with a network per build, each job with services
 * gets its own network, labelled like the job's container (sluice.pid) so that a later
 * start removes what a killed sluice left. The job's container is on that network with
 * the aliases of the services that share its network namespace: such a service is
 * reachable from the job by each of its aliases (the network's DNS answers the job's own
 * address) and on localhost, and those services reach each other the same way. A service
 * whose ports (HEALTHCHECK_TCP_PORT, else those its image exposes) one that came before it
 * already takes gets a container of its own on the network with its aliases, as every
 * service has under the runner's network per build: two postgres services on 5432 are then
 * both reached by their aliases (the first also on localhost). An alias an earlier service
 * already has is not given again, so it names one service. */
#ifndef SL_EXEC_DOCKER_SERVICES_H
#define SL_EXEC_DOCKER_SERVICES_H

#include "base/compat.h"
#include "base/error.h"
#include "exec/docker_api.h"
#include "exec/exec.h"
#include "exec/output.h"

#include <jansson.h>

/* The aliases GitLab derives from a service image NAME (tag and digest dropped; `/`
 * becomes `__`, and again `-`: registry.example.com/tools/db:1 gives
 * registry.example.com__tools__db and registry.example.com-tools-db; postgres:15 gives
 * postgres), then the service's own ALIASES (each may list several, separated by commas or
 * spaces, as GitLab's `alias: "db,postgres"`), without repeats. NULL-terminated; free with
 * sl_docker_strv_free. */
char **sl_docker_service_aliases(const char *name, const char *const *aliases);
void sl_docker_strv_free(char **v);

/* The services of one job, from creation to removal. */
struct sl_docker_services {
    struct sl_docker *d;        /* borrowed */
    struct sl_exec_output *out; /* borrowed: warnings and CI_DEBUG_SERVICES logs */
    const struct sl_exec_docker *dk;
    int64_t wait_ms; /* per service; 0: dk's, then 30 s; < 0: no wait */
    char *network;   /* created network's name, or NULL */
    json_t **own;    /* per service: its own endpoint's aliases, or NULL when it shares
                      * the job's network namespace */
    char **ids;      /* service containers (ids), ndone of them */
    size_t ndone;
};

/* Creates the job's network, named after LABEL_PID and a counter, labelled LABEL=PID, and
 * decides which services share the job's network namespace (the images are there: their
 * exposed ports are read). *ALIASES gets the job container's endpoint aliases (those
 * services'). */
int sl_docker_services_network(struct sl_docker_services *s, const char *label, const char *pid,
                               json_t **aliases, struct sl_error *err);
/* Starts every service, in the network namespace of the container JOB_ID or on its own
 * endpoint (see above), with the job's ENV (a JSON array of KEY=VALUE, borrowed) plus the
 * service's variables. */
int sl_docker_services_start(struct sl_docker_services *s, const char *job_id, json_t *env,
                             const char *label, const char *pid, struct sl_error *err);
/* Waits, as the runner's wait-for-services does, until one of each service's TCP ports
 * accepts a connection at HOST_IP (the job's address on the network; a service of its own
 * at its address), for up to the wait
 * time per service: HEALTHCHECK_TCP_PORT (the service's variables, else JOB_ENV's), else
 * every port its image exposes. No port opening, no port exposed, or a service that exits
 * is a warning with the service's last log lines, never a failure. */
void sl_docker_services_wait(struct sl_docker_services *s, const char *host_ip,
                             const char *const *job_env);
/* Writes each service's log into the job's log (CI_DEBUG_SERVICES). */
void sl_docker_services_logs(struct sl_docker_services *s);
/* Removes the service containers, then (after the caller removed the job's container)
 * the network: call with JOB_GONE false first, then true. */
void sl_docker_services_remove(struct sl_docker_services *s, bool job_gone);
/* True when PID, the value of a container's or network's sluice.pid label (anyone who can
 * reach the engine can write one), names a process that is gone. A live process, one of
 * another user (EPERM), or a label that is not a positive pid is never swept. */
bool sl_docker_label_owner_gone(const char *pid);
/* Removes networks labelled LABEL whose process is gone. */
void sl_docker_services_sweep(struct sl_docker *d, const char *label);

#endif
