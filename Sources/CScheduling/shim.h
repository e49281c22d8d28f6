// Thread scheduling and names for StitchServer: glibc has no wrapper for
// sched_setattr(2), and Swift cannot call the variadic syscall(2) and
// prctl(2), so this header wraps them. Linux only; elsewhere the calls
// report ENOSYS.
#pragma once
#include <errno.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/// The kernel's struct sched_attr (include/uapi/linux/sched/types.h), first version.
struct stitch_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

/// Sets the calling thread's policy (SCHED_OTHER 0, SCHED_BATCH 3,
/// SCHED_IDLE 5), nice value and, for SCHED_OTHER on Linux 6.12 and later
/// (EEVDF), its requested slice in nanoseconds (0 = the default): a shorter
/// slice gives the thread an earlier deadline, so it preempts a running
/// thread sooner when it wakes. Returns 0, or -1 with errno set.
static inline int stitch_set_thread_scheduling(uint32_t policy, int32_t nice, uint64_t slice_ns) {
#if defined(__linux__) && defined(SYS_sched_setattr)
    struct stitch_sched_attr attr = {0};
    attr.size = sizeof(attr);
    attr.sched_policy = policy;
    attr.sched_nice = nice;
    attr.sched_runtime = slice_ns;
    return (int)syscall(SYS_sched_setattr, 0, &attr, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// Names the calling thread (the kernel keeps 15 bytes). Returns 0, or -1 with errno set.
static inline int stitch_set_thread_name(const char *name) {
#if defined(__linux__)
    return prctl(PR_SET_NAME, name, 0, 0, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}
