/* jobspec: which earlier jobs' artifacts a job receives (GitLab's dependencies and needs
 * rule), on hand-made plans. */
#include "base/compat.h"
#include "harness/harness.h"
#include "jobspec/jobspec.h"

/* Four jobs: a, b in stage 0, c in stage 1, d (the one under test) in stage 2. */
static void plan4(struct sl_plan *p, struct sl_plan_job *jobs)
{
    memset(p, 0, sizeof(*p));
    memset(jobs, 0, 4 * sizeof(*jobs));
    static const char *const names[] = {"a", "b", "c", "d"};
    static const size_t stages[] = {0, 0, 1, 2};
    for (size_t i = 0; i < 4; i++) {
        jobs[i].name = names[i];
        jobs[i].stage_index = stages[i];
    }
    p->jobs = jobs;
    p->njobs = 4;
}

static size_t sources(const struct sl_plan *p, size_t *out)
{
    return sl_jobspec_sources(p, 3, out);
}

TEST(earlier_stages_by_default)
{
    struct sl_plan p;
    struct sl_plan_job j[4];
    size_t out[4];
    plan4(&p, j);
    CHECK_INT_EQ(sources(&p, out), 3);
    CHECK(out[0] == 0 && out[1] == 1 && out[2] == 2);
    CHECK_INT_EQ(sl_jobspec_sources(&p, 0, out), 0); /* nothing before the first stage */
}

TEST(needs_with_artifacts_only)
{
    struct sl_plan p;
    struct sl_plan_job j[4];
    size_t out[4];
    plan4(&p, j);
    struct sl_plan_need needs[] = {{"c", 2, true, false}, {"a", 0, false, false}};
    j[3].needs_declared = true;
    j[3].needs = needs;
    j[3].nneeds = 2;
    CHECK_INT_EQ(sources(&p, out), 1);
    CHECK_INT_EQ(out[0], 2);
    j[3].nneeds = 0; /* needs: [] */
    CHECK_INT_EQ(sources(&p, out), 0);
}

TEST(dependencies_alone_in_their_order)
{
    struct sl_plan p;
    struct sl_plan_job j[4];
    size_t out[4];
    plan4(&p, j);
    size_t deps[] = {2, 0, 2};
    j[3].dependencies_declared = true;
    j[3].dependencies = deps;
    j[3].ndependencies = 3;
    CHECK_INT_EQ(sources(&p, out), 2);
    CHECK(out[0] == 2 && out[1] == 0);
    j[3].ndependencies = 0; /* dependencies: [] */
    CHECK_INT_EQ(sources(&p, out), 0);
}

TEST(dependencies_intersected_with_needs_artifacts)
{
    struct sl_plan p;
    struct sl_plan_job j[4];
    size_t out[4];
    plan4(&p, j);
    struct sl_plan_need needs[] = {
        {"a", 0, true, false}, {"b", 1, false, false}, {"c", 2, true, false}};
    size_t deps[] = {1, 2};
    j[3].needs_declared = true;
    j[3].needs = needs;
    j[3].nneeds = 3;
    j[3].dependencies_declared = true;
    j[3].dependencies = deps;
    j[3].ndependencies = 2;
    CHECK_INT_EQ(sources(&p, out), 1); /* b is needed without artifacts, a not listed */
    CHECK_INT_EQ(out[0], 2);
    j[3].nneeds = 0; /* needs: [] with dependencies: nothing */
    CHECK_INT_EQ(sources(&p, out), 0);
}
