/* Loaded before libfaketime (tests/dates.sh). With FAKETIME_DONT_FAKE_MONOTONIC=1 the monotonic clock is
 * the real one, but libfaketime 0.9.10 still shifts the deadline of clock_nanosleep(CLOCK_MONOTONIC,
 * TIMER_ABSTIME) by the fake offset, so Python's time.sleep() fails with EINVAL (or sleeps for weeks).
 * Monotonic sleeps go straight to the kernel; every other clock goes on to libfaketime. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *request, struct timespec *remain) {
    static int (*next)(clockid_t, int, const struct timespec *, struct timespec *);
    if (clock_id == CLOCK_MONOTONIC || clock_id == CLOCK_MONOTONIC_RAW || clock_id == CLOCK_BOOTTIME) {
        int saved = errno;
        long rc = syscall(SYS_clock_nanosleep, clock_id, flags, request, remain);
        int err = rc == 0 ? 0 : errno;
        errno = saved;
        return err;
    }
    if (!next) {
        next = (int (*)(clockid_t, int, const struct timespec *, struct timespec *))dlsym(RTLD_NEXT, "clock_nanosleep");
    }
    return next(clock_id, flags, request, remain);
}
