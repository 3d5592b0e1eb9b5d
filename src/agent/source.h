/* source.h: a job's source, fetched over the server's git HTTP (libgit2).
 *
 * The agent keeps one bare mirror per project under WORK_DIR/repos/ (GitLab Runner's
 * "fetch" strategy: later jobs fetch only what is new), fetched with the job's own
 * repo_url (the job token is in it, so the server lets this job, and only while it runs,
 * read the project) and refspecs. Each job then gets its own checkout, a small repository
 * whose objects come from the mirror through objects/info/alternates, detached at the
 * job's commit: sl_job_run copies it into the job's workspace (exec/workspace.h).
 *
 * Fetches into one mirror are serialised (a lock per agent); checkouts run in parallel. */
#ifndef SL_AGENT_SOURCE_H
#define SL_AGENT_SOURCE_H

#include "agent/payload.h"
#include "base/compat.h"
#include "base/error.h"

/* Fetches JOB's commit into the mirror MIRROR_DIR (made when missing) and checks it out
 * into CHECKOUT_DIR (made afresh). SL_EPROTO for a failed fetch or a commit the server did
 * not send; ERR never holds the token. */
int sl_agent_source_fetch(const struct sl_agent_job *job, const char *mirror_dir,
                          const char *checkout_dir, struct sl_error *err);

#endif
